"""The Shopify emulator's query cost and throttling: the cost extension, the leaky bucket, the
per-query limit."""

from __future__ import annotations

from pathlib import Path

import duckdb
from starlette.testclient import TestClient

from tests.sandbox.shopify_fixtures import (
    FakeClock,
    FixtureView,
    gql,
    make_client,
)


def test_cost_extension_requested_actual_and_refund(shopify_client: TestClient) -> None:
    query = """query($q: String) {
        customers(first: 5, query: $q) { nodes { id amountSpent { amount } } } }"""
    full = gql(shopify_client, query)["extensions"]["cost"]
    # connection 2 + 5 nodes x (node 1 + amountSpent 1)
    assert full["requestedQueryCost"] == 12
    assert full["actualQueryCost"] == 12
    assert full["throttleStatus"] == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 1988,
        "restoreRate": 100.0,
    }
    partial = gql(shopify_client, query, q="id:<1003")["extensions"]["cost"]
    assert partial["requestedQueryCost"] == 12
    assert partial["actualQueryCost"] == 6
    assert partial["throttleStatus"]["currentlyAvailable"] == 1988 - 6
    fragments = """query($n: Int!, $money: Boolean!) { customers(first: $n) { ...C } }
        fragment C on CustomerConnection {
          nodes { id amountSpent @include(if: $money) { amount } } }"""
    cost = gql(shopify_client, fragments, n=3, money=False)["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (5, 5)


def test_bucket_throttles_then_refills(
    shopify_store: duckdb.DuckDBPyConnection, fake_clock: FakeClock, tmp_path: Path
) -> None:
    # At scale 0.05 the bucket holds 100 points and refills 5 per second.
    query = "{ customers(first: 30) { nodes { id } } }"  # 32 points, all 30 rows exist
    with make_client(FixtureView(shopify_store), fake_clock, tmp_path, scale=0.05) as client:
        for left in (68, 36, 4):
            assert (
                gql(client, query)["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
                == left
            )
        throttled = gql(client, query)
        assert "data" not in throttled
        assert throttled["errors"] == [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ]
        assert throttled["extensions"]["cost"] == {
            "requestedQueryCost": 32,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 100.0,
                "currentlyAvailable": 4,
                "restoreRate": 5.0,
            },
        }
        fake_clock.advance(5.0)  # 4 + 25 = 29 < 32: still throttled
        assert gql(client, query)["errors"][0]["extensions"]["code"] == "THROTTLED"
        fake_clock.advance(1.0)  # 34 points
        recovered = gql(client, query)
        assert len(recovered["data"]["customers"]["nodes"]) == 30
        assert recovered["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 2


def test_single_query_over_1000_points_is_refused(shopify_client: TestClient) -> None:
    body = gql(
        shopify_client,
        """{ orders(first: 250) { edges { node { id
              lineItems(first: 10) { edges { node { id } } } } } } }""",
    )
    assert "data" not in body
    [error] = body["errors"]
    # 2 + 250 x (1 + 2 + 10 x 1)
    assert error["message"].startswith(
        "Query cost is 3252, which exceeds the single query max cost limit (1000)."
    )
    assert error["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": 3252, "maxCost": 1000}
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 2000
