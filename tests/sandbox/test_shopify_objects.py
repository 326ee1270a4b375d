"""The Shopify emulator's object shapes: orders, lookups by id, nested lines, products."""

from __future__ import annotations

from pathlib import Path

import duckdb
from starlette.testclient import TestClient

from tests.sandbox.shopify_fixtures import (
    CountingView,
    FakeClock,
    gql,
    make_client,
)


def test_order_fields_and_processed_at_offset(shopify_client: TestClient) -> None:
    body = gql(
        shopify_client,
        """{ order(id: "gid://shopify/Order/5004") {
              id legacyResourceId name createdAt processedAt discountCodes displayFinancialStatus
              totalPriceSet { shopMoney { amount currencyCode } }
              totalDiscountsSet { shopMoney { amount } }
              customer { id legacyResourceId numberOfOrders amountSpent { amount } } } }""",
    )
    order = body["data"]["order"]
    assert order["id"] == "gid://shopify/Order/5004"
    assert order["legacyResourceId"] == "5004"
    assert order["createdAt"] == "2024-01-05T09:12:00Z"
    # Order 4 is rendered at UTC-05:00: the same instant as createdAt.
    assert order["processedAt"] == "2024-01-05T04:12:00-05:00"
    assert order["discountCodes"] == ["SAVE10"]
    assert order["totalPriceSet"]["shopMoney"] == {"amount": "17.5", "currencyCode": "USD"}
    assert order["totalDiscountsSet"]["shopMoney"]["amount"] == "2.5"
    assert order["customer"] == {
        "id": "gid://shopify/Customer/1005",
        "legacyResourceId": "1005",
        "numberOfOrders": "1",
        "amountSpent": {"amount": "62.5"},
    }


def test_single_lookups_and_global_ids(shopify_client: TestClient) -> None:
    assert gql(shopify_client, '{ customer(id: "gid://shopify/Customer/99") { id } }')["data"] == {
        "customer": None
    }
    body = gql(shopify_client, '{ customer(id: "1001") { id } }')
    assert body["errors"][0]["message"] == "Invalid global id '1001'"
    customer = gql(
        shopify_client,
        """{ customer(id: "gid://shopify/Customer/1010") {
              email defaultEmailAddress { emailAddress } emailMarketingConsent { marketingState }
              tags displayName } }""",
    )["data"]["customer"]
    assert customer == {
        "email": None,
        "defaultEmailAddress": None,
        "emailMarketingConsent": None,
        "tags": ["vip"],
        "displayName": "First10 Last10",
    }


def test_nested_line_items_match_the_store(
    shopify_client: TestClient, shopify_store: duckdb.DuckDBPyConnection
) -> None:
    body = gql(
        shopify_client,
        """{ orders(first: 40, sortKey: ID) { nodes { legacyResourceId
              lineItems(first: 3) { nodes { id sku quantity
                originalUnitPriceSet { shopMoney { amount } }
                product { id productType } variant { id price } } } } } }""",
    )
    got = {
        (int(o["legacyResourceId"]), int(li["id"].rsplit("/", 1)[1]), li["sku"], li["quantity"])
        for o in body["data"]["orders"]["nodes"]
        for li in o["lineItems"]["nodes"]
    }
    expected = set(
        shopify_store.execute(
            "SELECT order_id, line_id, sku, quantity FROM v_order_lines"
        ).fetchall()
    )
    assert got == expected
    first_line = body["data"]["orders"]["nodes"][0]["lineItems"]["nodes"][0]
    assert first_line["product"] == {"id": "gid://shopify/Product/2", "productType": "tea"}
    assert first_line["variant"] == {"id": "gid://shopify/ProductVariant/21", "price": "11.5"}


def test_nested_relations_are_batched_not_n_plus_one(
    shopify_store: duckdb.DuckDBPyConnection, fake_clock: FakeClock, tmp_path: Path
) -> None:
    view = CountingView(shopify_store)
    query = """query($n: Int!) { orders(first: $n, sortKey: ID) { nodes { id customer { id }
                 lineItems(first: 5) { nodes { id product { id } variant { id } } } } } }"""
    counts = []
    with make_client(view, fake_clock, tmp_path) as client:
        for size in (3, 30):
            before = view.statements
            gql(client, query, n=size)
            counts.append(view.statements - before)
    assert counts[0] == counts[1] <= 6


def test_products_variants_and_abandoned_checkouts(shopify_client: TestClient) -> None:
    products = gql(
        shopify_client,
        """{ products(first: 10, sortKey: TITLE) { nodes { title productType vendor
              variants(first: 5, sortKey: SKU) { nodes { id sku price } } } } }""",
    )["data"]["products"]["nodes"]
    assert [p["productType"] for p in products] == ["coffee", "tea", "equipment", "gifts"]
    assert products[0]["variants"]["nodes"] == [
        {"id": "gid://shopify/ProductVariant/11", "sku": "SKU-1-1", "price": "6.5"},
        {"id": "gid://shopify/ProductVariant/12", "sku": "SKU-1-2", "price": "7.5"},
    ]
    checkouts = gql(
        shopify_client,
        """{ abandonedCheckouts(first: 2) { nodes { id completedAt customer { id }
              totalPriceSet { shopMoney { amount } }
              lineItems(first: 5) { nodes { title quantity variant { id } product { id } } }
            } } }""",
    )["data"]["abandonedCheckouts"]["nodes"]
    assert checkouts[0]["id"] == "gid://shopify/AbandonedCheckout/9001"
    assert checkouts[0]["customer"] == {"id": "gid://shopify/Customer/1001"}
    assert checkouts[1]["customer"] is None
    assert checkouts[0]["lineItems"]["nodes"][0]["quantity"] == 3
