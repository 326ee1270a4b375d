"""ShopifyClient against the Shopify emulator on loopback: paging, bulk operations, query cost,
throttling, faults and a rejected token."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections import Counter
from datetime import datetime

import pytest
import requests

from pipeline.lib.clients import shopify
from pipeline.lib.clients.http import ApiError, RejectedCredentialsError
from pipeline.lib.clients.shopify import SHOPIFY_ENTITIES
from pipeline.lib.clients.shopify_queries import (
    ENTITIES,
    MAX_QUERY_COST,
    Conn,
    connection_cost,
    node_cost,
    page_query,
    page_size,
    rest_page_size,
    rest_query,
)
from sandbox.shopify import bulk as emulator_bulk
from tests.lib.clients.sandbox_fixtures import FAULTS, FakeClock, serve
from tests.lib.clients.shopify_client_fixtures import SPRING, TOKEN, client

pytestmark = pytest.mark.integration
HISTORY = (datetime(2020, 1, 1), datetime(2025, 1, 1))
STORE_COUNTS = {
    "customers": "select count(*) from v_shopify_customers",
    "orders": "select count(*) from v_orders",
    "products": "select count(distinct product_id) from v_products",
    "abandoned_checkouts": "select count(*) from v_abandoned_checkouts",
}
NESTED_COUNTS = {
    "orders": ("lineItems", "select count(*) from v_order_lines join v_orders using (order_id)"),
    "products": ("variants", "select count(*) from v_products"),
    "abandoned_checkouts": (
        "lineItems",
        "select count(*) from v_checkout_lines join v_abandoned_checkouts using (checkout_id)",
    ),
}


def by_id(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: r["id"])


def within(records: list[dict], window: tuple[datetime, datetime]) -> list[dict]:
    low, high = (f"{w:%Y-%m-%dT%H:%M:%SZ}" for w in window)
    return by_id([r for r in records if low <= r["updatedAt"] < high])


def store_count(view, sql: str) -> int:
    with view.cursor() as cur:
        return cur.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def paged_all(sandbox):
    """Every record of every entity, read page by page once for the module."""
    shop = client(sandbox.shopify_url)
    return {e: list(shop.fetch_updated_between(e, *HISTORY)) for e in SHOPIFY_ENTITIES}


@pytest.mark.parametrize("entity", SHOPIFY_ENTITIES)
def test_paging_reads_every_record_once(entity, paged_all, small_store_view):
    records = paged_all[entity]
    ids = Counter(r["id"] for r in records)
    assert len(ids) == len(records) == store_count(small_store_view, STORE_COUNTS[entity])
    if entity in NESTED_COUNTS:
        name, sql = NESTED_COUNTS[entity]
        children = [c["id"] for r in records for c in r[name]]
        assert len(set(children)) == len(children) == store_count(small_store_view, sql)


def test_adjacent_windows_neither_lose_nor_double_a_record(sandbox, paged_all, small_store_view):
    with small_store_view.cursor() as cur:
        # A cut exactly at a customer's update time: [start, end) puts it in the later window.
        (cut,) = cur.execute(
            "select updated_at from v_shopify_customers order by updated_at limit 1 offset 300"
        ).fetchone()
    assert datetime(2024, 3, 1) < cut < datetime(2024, 8, 1)
    cuts = [HISTORY[0], datetime(2024, 3, 1), cut, datetime(2024, 8, 1), HISTORY[1]]
    shop = client(sandbox.shopify_url)
    windows = [
        list(shop.fetch_updated_between("customers", low, high))
        for low, high in itertools.pairwise(cuts)
    ]
    merged = [r for window in windows for r in window]
    assert by_id(merged) == by_id(paged_all["customers"])
    at_cut = f"{cut:%Y-%m-%dT%H:%M:%SZ}"
    assert any(r["updatedAt"] == at_cut for r in windows[2])
    assert all(r["updatedAt"] < at_cut for r in windows[1])


def test_bulk_yields_exactly_what_paging_yields(sandbox, paged_all):
    shop = client(sandbox.shopify_url, sleep=time.sleep)
    for entity in SHOPIFY_ENTITIES:
        bulk = list(shop.fetch_updated_between(entity, *HISTORY, bulk=True))
        assert by_id(bulk) == by_id(paged_all[entity]), entity
    spring = list(shop.fetch_updated_between("orders", *SPRING, bulk=True))
    assert by_id(spring) == within(paged_all["orders"], SPRING) != []
    # One downloaded file per operation.
    assert shop.session.stats.pages == len(SHOPIFY_ENTITIES) + 1


def test_bulk_over_an_empty_window_yields_nothing(sandbox):
    shop = client(sandbox.shopify_url, sleep=time.sleep)
    window = (datetime(2030, 1, 1), datetime(2030, 2, 1))
    assert list(shop.fetch_updated_between("orders", *window, bulk=True)) == []
    assert shop.session.stats.pages == 0


def test_nested_lists_longer_than_their_page_are_completed(sandbox, paged_all, monkeypatch):
    orders = ENTITIES["orders"]
    one_line = tuple(
        dataclasses.replace(f, page_size=1) if isinstance(f, Conn) else f for f in orders.fields
    )
    monkeypatch.setitem(ENTITIES, "orders", dataclasses.replace(orders, fields=one_line))
    monkeypatch.setattr(shopify, "rest_page_size", lambda conn: 1)
    shop = client(sandbox.shopify_url)

    records = list(shop.fetch_updated_between("orders", *SPRING))
    expected = within(paged_all["orders"], SPRING)
    assert by_id(records) == expected
    assert max(len(r["lineItems"]) for r in records) >= 3
    top_pages = -(-len(records) // page_size(ENTITIES["orders"]))
    extra_lines = sum(len(r["lineItems"]) - 1 for r in records)
    assert shop.session.stats.pages == top_pages + extra_lines


@pytest.mark.parametrize("entity", SHOPIFY_ENTITIES)
def test_pages_stay_under_the_single_query_cost_limit(entity, sandbox):
    spec = ENTITIES[entity]
    headers = {"X-Shopify-Access-Token": TOKEN}
    queries = [(page_query(spec), {"first": page_size(spec), "query": ""})]
    estimates = [connection_cost(node_cost(spec.fields), page_size(spec))]
    for conn in spec.nested.values():
        first = rest_page_size(conn)
        queries.append((rest_query(spec, conn), {"first": first, "query": "id:1"}))
        estimates.append(connection_cost(node_cost((Conn("", "", conn.fields, first),)), 1))
    for (query, variables), estimate in zip(queries, estimates, strict=True):
        body = requests.post(
            sandbox.shopify_url,
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=30,
        ).json()
        requested = body["extensions"]["cost"]["requestedQueryCost"]
        assert "errors" not in body
        assert requested <= estimate <= MAX_QUERY_COST


def test_a_page_shopify_finds_too_expensive_is_shrunk(sandbox, paged_all, monkeypatch):
    monkeypatch.setattr(shopify, "page_size", lambda spec: 250)
    shop = client(sandbox.shopify_url)

    records = list(shop.fetch_updated_between("orders", *SPRING))
    assert by_id(records) == within(paged_all["orders"], SPRING)
    # Exactly one page was refused before the smaller size went through.
    assert shop.session.stats.requests == shop.session.stats.pages + 1


def test_cost_throttling_waits_for_the_bucket(small_store_view, tmp_path, paged_all):
    clock = FakeClock()
    with serve(small_store_view, tmp_path, scale=1.0, clock=clock) as throttled:
        shop = client(throttled.shopify_url, sleep=clock.sleep)
        records = list(shop.fetch_updated_between("customers", *HISTORY))
    assert by_id(records) == by_id(paged_all["customers"])
    stats = shop.session.stats
    assert stats.throttled_seconds == pytest.approx(sum(clock.slept)) and stats.retries > 0
    # Shopify's bucket refills 100 points a second; each wait is what the next page lacked.
    assert all(0 < s <= MAX_QUERY_COST / 100 for s in clock.slept)


def test_faults_change_nothing_but_the_retry_count(small_store_view, tmp_path, paged_all):
    with serve(small_store_view, tmp_path, faults=FAULTS, seed=11) as faulty:
        shop = client(faulty.shopify_url, max_attempts=12, sleep=lambda s: time.sleep(min(s, 0.02)))
        customers = list(shop.fetch_updated_between("customers", *HISTORY))
        spring = list(shop.fetch_updated_between("orders", *SPRING))
        spring_bulk = list(shop.fetch_updated_between("orders", *SPRING, bulk=True))
    assert by_id(customers) == by_id(paged_all["customers"])
    assert by_id(spring) == by_id(spring_bulk) == within(paged_all["orders"], SPRING)
    assert shop.session.stats.retries > 0


def test_a_wrong_token_fails_once_in_plain_words(sandbox):
    shop = client(sandbox.shopify_url, token="shpat-wrong")
    with pytest.raises(RejectedCredentialsError) as error:
        list(shop.fetch_updated_between("orders", *SPRING))
    assert str(error.value) == "Shopify rejected the API key: check SHOPIFY_ACCESS_TOKEN"
    assert shop.session.stats.requests == 1


def test_a_failed_bulk_operation_reports_its_error_code(sandbox, monkeypatch):
    def broken(self, op, document, out):
        raise RuntimeError("storage unavailable")

    monkeypatch.setattr(emulator_bulk.BulkOperations, "_write", broken)
    shop = client(sandbox.shopify_url, sleep=time.sleep)
    with pytest.raises(ApiError, match=r"failed \(error code INTERNAL_SERVER_ERROR\)"):
        list(shop.fetch_updated_between("orders", *SPRING, bulk=True))
