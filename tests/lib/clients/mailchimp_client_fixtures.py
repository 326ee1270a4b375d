"""Shared pieces of the Mailchimp client tests: a quiet client and the merge fields they create."""

from __future__ import annotations

from pipeline.lib.clients.mailchimp import MailchimpClient
from tests.lib.clients.sandbox_fixtures import quiet_session

FIELDS = [
    {"tag": "CHURN", "name": "Churn probability", "type": "number"},
    {"tag": "CHURNTIER", "name": "Churn tier", "type": "text"},
]


def client(url: str, key: str = "sandbox-key", **kwargs) -> MailchimpClient:
    return MailchimpClient(url, key, quiet_session("Mailchimp", "MAILCHIMP_API_KEY", **kwargs))
