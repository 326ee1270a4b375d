"""Shared pieces of the Shopify client tests: a quiet client and the windows they read."""

from __future__ import annotations

from datetime import datetime

from pipeline.lib.clients.shopify import ShopifyClient
from tests.lib.clients.sandbox_fixtures import quiet_session

SPRING = (datetime(2024, 3, 1), datetime(2024, 5, 1))
TOKEN = "sandbox-key"


def client(url: str, token: str = TOKEN, **kwargs) -> ShopifyClient:
    return ShopifyClient(url, token, quiet_session("Shopify", "SHOPIFY_ACCESS_TOKEN", **kwargs))
