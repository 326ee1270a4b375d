"""Secrets never leave through errors or redirects: keys are stripped and checked, a request
that cannot be sent says what kind of failure it was without quoting the key, and a redirect to
another host or port arrives without any credential header."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.lib.clients.http import ApiError, ApiSession, RejectedCredentialsError
from pipeline.lib.clients.klaviyo import KlaviyoClient
from pipeline.lib.clients.mailchimp import MailchimpClient
from pipeline.lib.clients.shopify import ShopifyClient

KEY = "shpat_0123456789abcdef"


@contextmanager
def server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_key_read_with_a_trailing_newline_is_stripped_and_sent_clean():
    session = ApiSession("Shopify", "SHOPIFY_ACCESS_TOKEN")
    assert session.credential(f"  {KEY}\n") == KEY


@pytest.mark.parametrize("bad", ["shpat_01 23", "shpat\n0123", "", "   \n"])
def test_a_key_with_a_blank_inside_or_none_is_refused_without_quoting_it(bad):
    with pytest.raises(RejectedCredentialsError, match="SHOPIFY_ACCESS_TOKEN") as refused:
        ShopifyClient("http://127.0.0.1:9/graphql.json", bad)
    assert not (bad.strip() and bad.strip() in str(refused.value))


@pytest.mark.parametrize("make", [KlaviyoClient, MailchimpClient])
def test_every_client_checks_its_key(make):
    with pytest.raises(RejectedCredentialsError):
        make("http://127.0.0.1:9", "key with\nnewline")


def test_a_request_that_cannot_be_sent_does_not_carry_the_header_value():
    session = ApiSession("Shopify", "SHOPIFY_ACCESS_TOKEN", max_attempts=1)
    with pytest.raises(ApiError) as failed:
        # A header value requests refuses (InvalidHeader quotes it in its message).
        session.request("GET", "http://127.0.0.1:9/", headers={"X-Token": f"{KEY}\nInjected: 1"})
    assert KEY not in str(failed.value) and "InvalidHeader" in str(failed.value)
    assert failed.value.__cause__ is None and failed.value.__context__ is None


def test_a_redirect_to_another_host_arrives_without_the_token():
    seen: list[dict] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"data": {"shop": {"name": "x"}}}')

        def log_message(self, *args):
            pass

    with server(Elsewhere) as elsewhere:

        class Redirecting(BaseHTTPRequestHandler):
            def do_POST(self):
                self.send_response(307)
                self.send_header("Location", f"{elsewhere}/graphql.json")
                self.end_headers()

            def log_message(self, *args):
                pass

        with server(Redirecting) as shop:
            client = ShopifyClient(f"{shop}/graphql.json", KEY)
            client.execute("{ shop { name } }")
    [headers] = seen
    assert KEY not in str(headers) and "X-Shopify-Access-Token" not in headers
