"""Local alert receivers for tests: a webhook (HTTP) server and an SMTP server, both on
127.0.0.1 in the test process, recording what reaches them."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


@dataclass
class Received:
    webhook: list[dict] = field(default_factory=list)
    emails: list[dict] = field(default_factory=list)
    webhook_status: int = 200

    def texts(self) -> list[str]:
        return [m["text"] for m in self.webhook] + [m["content"] for m in self.emails]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def webhook_receiver(received: Received) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.webhook.append({"path": self.path, **json.loads(body)})
            self.send_response(received.webhook_status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-token"
    finally:
        server.shutdown()
        server.server_close()


class _SmtpHandler:
    def __init__(self, received: Received):
        self.received = received

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes

        message = message_from_bytes(envelope.content)
        self.received.emails.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "subject": message["Subject"],
                "content": message.get_payload(decode=True).decode(),
            }
        )
        return "250 Message accepted for delivery"


@contextmanager
def smtp_receiver(received: Received) -> Iterator[int]:
    port = _free_port()
    controller = Controller(_SmtpHandler(received), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def alert_receivers() -> Iterator[tuple[Received, dict[str, str]]]:
    """Both receivers running, and the environment that points the notifier at them."""
    received = Received()
    with webhook_receiver(received) as url, smtp_receiver(received) as port:
        yield (
            received,
            {
                "FORESIGHT_ALERT_WEBHOOK_URL": url,
                "FORESIGHT_ALERT_SMTP_HOST": "127.0.0.1",
                "FORESIGHT_ALERT_SMTP_PORT": str(port),
                "FORESIGHT_ALERT_SMTP_SECURITY": "none",
                "FORESIGHT_ALERT_EMAIL_FROM": "foresight@shop.test",
                "FORESIGHT_ALERT_EMAIL_TO": "analyst@shop.test, marketer@shop.test",
            },
        )
