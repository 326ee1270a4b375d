"""Guards against platforms that would stall a run: a Retry-After of hours is honoured only up to
a bound, and a next-page link or cursor that repeats the current page stops with a plain error
instead of reading the same page for ever."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipeline.lib.clients.http import ApiError, ApiSession
from pipeline.lib.clients.klaviyo import KlaviyoClient
from pipeline.lib.clients.shopify import ShopifyClient
from tests.lib.clients.sandbox_fixtures import Reply, scripted

BASE = "https://api.example.test"


def test_a_retry_after_of_a_day_waits_only_the_bound():
    slept: list[float] = []
    api = ApiSession("Klaviyo", "KLAVIYO_API_KEY", sleep=slept.append, max_retry_after=300)
    scripted(api, [Reply(429, headers={"Retry-After": "86400"}), Reply(200, {"ok": 1})])
    assert api.request_json("GET", f"{BASE}/x") == {"ok": 1}
    assert slept == [300]


def test_a_klaviyo_next_link_that_repeats_a_page_stops():
    api = ApiSession("Klaviyo", "KLAVIYO_API_KEY", sleep=lambda _: None)
    looping = {"data": [{"id": "L1", "attributes": {}}], "links": {"next": f"{BASE}/api/lists?c=1"}}
    adapter = scripted(api, [Reply(200, looping)] * 3)
    client = KlaviyoClient(BASE, "key", api)
    with pytest.raises(ApiError, match="repeats an earlier page"):
        list(client.fetch_lists())
    assert len(adapter.requests) == 2


def test_a_shopify_cursor_that_repeats_the_page_stops():
    api = ApiSession("Shopify", "SHOPIFY_ACCESS_TOKEN", sleep=lambda _: None)
    page = {
        "data": {
            "customers": {
                "edges": [{"node": {"id": "gid://shopify/Customer/1"}}],
                "pageInfo": {"hasNextPage": True, "endCursor": "c1"},
            }
        }
    }
    adapter = scripted(api, [Reply(200, page)] * 3)
    client = ShopifyClient(f"{BASE}/admin/api/2025-01/graphql.json", "token", api)
    records = client.fetch_updated_between("customers", datetime(2024, 1, 1), datetime(2024, 2, 1))
    with pytest.raises(ApiError, match="repeats the current page"):
        list(records)
    assert len(adapter.requests) == 2
