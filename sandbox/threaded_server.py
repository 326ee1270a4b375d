"""Run an ASGI app with uvicorn on 127.0.0.1 in a background thread (tests, benchmarks)."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"


class ThreadedServer:
    """A uvicorn server in a daemon thread; `port=0` takes any free port, shown in `url`."""

    def __init__(self, app: ASGIApp, port: int = 0):
        config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{HOST}:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
