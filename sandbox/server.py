"""The sandbox HTTP server: Shopify, Klaviyo and Mailchimp emulators over one store, on 127.0.0.1.

`open_sandbox` prepares everything a server needs (the store file, generated on first use; the
view at `now`; the persistent platform state), `build_app` assembles the Starlette app, and
`threaded_server.ThreadedServer` runs it in a background thread for tests and benchmarks.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.context import DEFAULT_API_TOKEN, SandboxContext
from sandbox.faults import FaultInjector, FaultSpec
from sandbox.klaviyo.api import klaviyo_routes
from sandbox.mailchimp.api import mailchimp_routes
from sandbox.shop.simulator import FUTURE_DAYS, StoreSpec, ensure_store
from sandbox.shop.store import StoreView
from sandbox.shopify.api import shopify_routes
from sandbox.state import SandboxState


class SandboxClockError(ValueError):
    """A `now` outside what the store simulated."""


def resolve_now(spec: StoreSpec, now: datetime | None) -> datetime:
    """The sandbox clock: by default the day after the history.

    It may advance past the history into the simulated future (up to `FUTURE_DAYS` beyond it),
    revealing one more day of orders, events and consent changes for every day it moves, so a
    real daily cycle can be run against the store.
    """
    start = datetime.combine(spec.start, datetime.min.time())
    simulated_until = datetime.combine(spec.simulated_until, datetime.min.time())
    if now is None:
        return datetime.combine(spec.end, datetime.min.time())
    if not start < now <= simulated_until:
        raise SandboxClockError(
            f"--now {now:%Y-%m-%d} is outside what this store simulated ({spec.start} to "
            f"{spec.simulated_until}: its {spec.days} days of history and {FUTURE_DAYS} days of "
            "future); choose a date in that range"
        )
    return now


def open_sandbox(
    spec: StoreSpec,
    data_dir: Path,
    now: datetime | None = None,
    rate_limit_scale: float = 1.0,
    api_token: str = DEFAULT_API_TOKEN,
) -> SandboxContext:
    """The store (generated on first use) seen at `now`, with the shop's persistent state."""
    now = resolve_now(spec, now)
    store_path = ensure_store(spec, data_dir / "stores")
    state = SandboxState(data_dir / spec.file_name().replace("store-", "state-"))
    return SandboxContext(
        view=StoreView(store_path, now),
        state=state,
        rate_limit_scale=rate_limit_scale,
        api_token=api_token,
    )


def build_app(ctx: SandboxContext, faults: FaultSpec | None = None, *, bulk_dir: Path) -> Starlette:
    """The emulators, the read-only inspection endpoints, and fault injection around them.

    `bulk_dir` holds Shopify bulk operation results (the files a bulk operation's URL serves).
    """
    faults = faults or FaultSpec()
    bulk_dir.mkdir(parents=True, exist_ok=True)
    injector: dict[str, FaultInjector] = {}

    async def health(_: Request) -> JSONResponse:
        # The pid lets a launcher prove the answer comes from the process it started.
        return JSONResponse({"status": "ok", "pid": os.getpid()})

    async def info(_: Request) -> JSONResponse:
        spec = ctx.view.spec
        return JSONResponse(
            {
                "store": {**asdict(spec), "start": spec.start.isoformat()},
                "now": ctx.view.now.isoformat(),
                "rate_limit_scale": ctx.rate_limit_scale,
                "faults": faults.rates,
            }
        )

    async def state(_: Request) -> JSONResponse:
        middleware = injector.get("faults")
        injected = dict(middleware.injected) if middleware else {}
        return JSONResponse({**ctx.state.summary(), "faults_injected": injected})

    routes = [
        Route("/sandbox/health", health),
        Route("/sandbox/info", info),
        Route("/sandbox/state", state),
        *shopify_routes(ctx, bulk_dir=bulk_dir),
        *klaviyo_routes(ctx),
        *mailchimp_routes(ctx),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(_RecordingFaultInjector, spec=faults, registry=injector)
    return app


class _RecordingFaultInjector(FaultInjector):
    """A `FaultInjector` that registers itself so `/sandbox/state` can report its counts."""

    def __init__(self, app, spec: FaultSpec, registry: dict):
        super().__init__(app, spec)
        registry["faults"] = self
