"""Helpers for the client tests: sandbox servers over the small store, and a scripted transport.

`serve` runs the real emulators (with optional faults and a hand-moved clock) on 127.0.0.1 over
the session's small store view. `ScriptedAdapter` answers a `requests.Session` from a script so
retry and error handling can be tested without any server and without waiting.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter
from urllib3.exceptions import ProtocolError

from pipeline.lib.clients.http import ApiSession
from sandbox.context import DEFAULT_API_TOKEN, SandboxContext
from sandbox.faults import FaultSpec
from sandbox.server import build_app
from sandbox.state import SandboxState
from sandbox.threaded_server import ThreadedServer

SHOPIFY_PATH = "/admin/api/2026-10/graphql.json"
FAULTS = "429=0.2,5xx=0.1,drop=0.05"


class FakeClock:
    """A monotonic clock for the emulators' rate limits that only the client's sleeps move."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Sandbox:
    url: str
    ctx: SandboxContext

    @property
    def shopify_url(self) -> str:
        return self.url + SHOPIFY_PATH


@contextmanager
def serve(
    view: Any,
    bulk_dir: Path,
    *,
    scale: float = 1000.0,
    faults: str = "",
    seed: int = 0,
    clock: FakeClock | None = None,
) -> Iterator[Sandbox]:
    """Both emulators over `view` on 127.0.0.1; a high `scale` keeps rate limits out of the way."""
    ctx = SandboxContext(
        view=view,
        state=SandboxState(":memory:"),
        rate_limit_scale=scale,
        api_token=DEFAULT_API_TOKEN,
        clock=clock or time.monotonic,
    )
    app = build_app(ctx, FaultSpec.parse(faults, seed=seed), bulk_dir=bulk_dir)
    with ThreadedServer(app) as server:
        yield Sandbox(server.url, ctx)
    ctx.state.close()


def quiet_session(platform: str, env: str, **kwargs: Any) -> ApiSession:
    """A session whose sleeps never wait longer than a blink, with seeded jitter."""
    kwargs.setdefault("sleep", lambda seconds: None)
    kwargs.setdefault("rng", random.Random(0))
    return ApiSession(platform, env, **kwargs)


# -- a scripted transport ---------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer: a status, a JSON (or raw text) body and headers."""

    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    break_after: bytes | None = None  # stream these bytes, then drop the connection


class _BrokenStream:
    """A raw body that delivers some bytes and then fails like a dropped connection."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, _size: int, decode_content: bool = True) -> Iterator[bytes]:
        yield self.data
        raise ProtocolError("Connection broken: IncompleteRead")

    def close(self) -> None:
        pass


class ScriptedAdapter(BaseAdapter):
    """Answers each request with the next item of `script` (a Reply, or an exception to raise)."""

    def __init__(self, script: list[Reply | Exception]) -> None:
        super().__init__()
        self.script = list(script)
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        self.requests.append(request)
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        response = requests.Response()
        response.status_code = item.status
        response.headers.update(item.headers)
        response.url = request.url or ""
        response.request = request
        if item.break_after is not None:
            response.raw = _BrokenStream(item.break_after)
        else:
            body = item.body
            if not isinstance(body, bytes | str):
                body = json.dumps(body)
            response._content = body.encode() if isinstance(body, str) else body
            response._content_consumed = True
            response.raw = io.BytesIO()
        return response

    def close(self) -> None:
        pass


def scripted(api: ApiSession, script: list[Reply | Exception]) -> ScriptedAdapter:
    """Route every request of `api` through a new ScriptedAdapter."""
    adapter = ScriptedAdapter(script)
    api.http.mount("http://", adapter)
    api.http.mount("https://", adapter)
    return adapter
