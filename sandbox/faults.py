"""Fault injection for reliability tests: the failures real platform APIs produce.

`--faults "429=0.1,5xx=0.05,slow=0.02,drop=0.02,malformed=0.01"` gives each API request
(`/admin/api/...`, `/api/...`, `/3.0/...`; never the sandbox's own `/sandbox/...`) an
independent chance of:
- 429: rejected with `Retry-After` before it reaches the API (nothing happens);
- 5xx: a 500/502/503 before it reaches the API (nothing happens);
- slow: answered after `slow_seconds` (default 2), the request read in full first, so a write
  takes effect even when the client stopped waiting;
- drop: processed, then the connection dies mid-response (the write, if any, took effect);
- malformed: one record of the answer gets a broken timestamp or loses its id.
Draws come from a generator seeded by `seed`, so a run of requests sees the same faults each time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

KINDS = ("429", "5xx", "slow", "drop", "malformed")
FAULTED_PREFIXES = ("/admin/api/", "/api/", "/3.0/")


class FaultSpecError(ValueError):
    """A `--faults` value that cannot be understood."""


@dataclass(frozen=True)
class FaultSpec:
    """Probabilities per fault kind, plus the delay of a slow response."""

    rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 2.0
    seed: int = 0

    @classmethod
    def parse(cls, text: str | None, seed: int = 0) -> FaultSpec:
        """Parse `kind=rate,...`; `slow_seconds=S` sets the slow delay."""
        rates: dict[str, float] = {}
        slow_seconds = 2.0
        for part in filter(None, (p.strip() for p in (text or "").split(","))):
            key, sep, value = part.partition("=")
            try:
                number = float(value)
            except ValueError:
                number = None
            if not sep or number is None:
                raise FaultSpecError(f"fault '{part}' is not of the form kind=number")
            if key == "slow_seconds":
                slow_seconds = number
            elif key in KINDS:
                if not 0 <= number <= 1:
                    raise FaultSpecError(f"fault rate for '{key}' must be between 0 and 1")
                rates[key] = number
            else:
                raise FaultSpecError(
                    f"unknown fault kind '{key}'; use {', '.join(KINDS)} or slow_seconds"
                )
        if sum(rates.values()) > 1:
            raise FaultSpecError("fault rates add up to more than 1")
        return cls(rates=rates, slow_seconds=slow_seconds, seed=seed)


class FaultInjector:
    """ASGI middleware that injects the faults of a `FaultSpec` and counts what it injected."""

    def __init__(self, app: ASGIApp, spec: FaultSpec):
        self.app = app
        self.spec = spec
        self.injected: Counter[str] = Counter()
        self._random = random.Random(spec.seed)
        self._lock = threading.Lock()

    def _draw(self) -> tuple[str | None, float]:
        """Which fault (if any) this request gets, and a uniform number to shape it."""
        with self._lock:
            u, pick = self._random.random(), self._random.random()
            for kind in KINDS:
                rate = self.spec.rates.get(kind, 0.0)
                if u < rate:
                    self.injected[kind] += 1
                    return kind, pick
                u -= rate
        return None, pick

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(FAULTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        kind, pick = self._draw()
        if kind == "429":
            await _reply(
                send, 429, {"errors": "Too many requests (injected)"}, [(b"retry-after", b"1")]
            )
        elif kind == "5xx":
            status = (500, 502, 503)[int(pick * 3)]
            await _reply(send, status, {"errors": f"Injected server error {status}"})
        elif kind == "slow":
            # A slow platform has the request in hand and works on it: the write takes effect
            # even when the client gave up waiting and the answer reaches nobody.
            receive = await _buffered(receive)
            await asyncio.sleep(self.spec.slow_seconds)
            await self.app(scope, receive, send)
        elif kind in ("drop", "malformed"):
            status, headers, body = await _capture(self.app, scope, receive)
            if kind == "drop":
                await _truncated(send, status, headers, body)
            else:
                body = corrupt_one_record(body, random.Random(pick))
                await _send(send, status, headers, body)
        else:
            await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; the returned `receive` replays it, then listens to the
    connection again (which tells when the client has gone)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _reply(send: Send, status: int, payload: dict, extra=()) -> None:
    body = json.dumps(payload).encode()
    await _send(send, status, [(b"content-type", b"application/json"), *extra], body)


async def _send(send: Send, status: int, headers, body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _truncated(send: Send, status: int, headers, body: bytes) -> None:
    """Send the headers and half the body, then stop: the server closes the connection."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})


class _QuietDroppedResponses(logging.Filter):
    """uvicorn reports each deliberately unfinished response as an error; these are intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietDroppedResponses())


async def _capture(app: ASGIApp, scope: Scope, receive: Receive):
    start: dict = {}
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    return start["status"], list(start.get("headers", [])), b"".join(chunks)


def corrupt_one_record(body: bytes, rng: random.Random) -> bytes:
    """Break one record (a dict with an `id`) of a JSON answer: a bad timestamp, or no id."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    records: list[dict] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if "id" in node and isinstance(node["id"], str):
                records.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    if not records:
        return body
    record = records[rng.randrange(len(records))]
    holder = record.get("attributes", record)
    stamps = [k for k, v in holder.items() if isinstance(v, str) and _looks_like_timestamp(v)]
    if stamps:
        holder[stamps[0]] = "not-a-timestamp"
    else:
        del record["id"]
    return json.dumps(document).encode()


def _looks_like_timestamp(value: str) -> bool:
    return len(value) >= 19 and value[4] == "-" and value[10] in "T "
