"""The sandbox launcher trusts only the process it started: another server already answering
on the port stops the launch instead of handing the run someone else's shop."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sandbox.process import running_sandbox


class OtherSandbox(BaseHTTPRequestHandler):
    """A healthy sandbox of another checkout, already on the port."""

    def do_GET(self):
        body = json.dumps({"status": "ok", "pid": 1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_port_answered_by_another_process_stops_the_launch():
    other = ThreadingHTTPServer(("127.0.0.1", 0), OtherSandbox)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    port = other.server_address[1]
    try:
        with (
            pytest.raises(SystemExit, match=f"port {port} is held by another process"),
            running_sandbox(port, ["--customers", "20"]),
        ):
            pytest.fail("the launch went on against another process")
    finally:
        other.shutdown()
        other.server_close()
