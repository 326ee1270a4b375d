"""The Shopify GraphQL Admin API emulator against a small fixture store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from starlette.testclient import TestClient

from sandbox.shopify import bulk as shopify_bulk
from tests.sandbox.shopify_fixtures import (
    N_CUSTOMERS,
    N_ORDERS,
    START,
    CountingView,
    FakeClock,
    FixtureView,
    GatedView,
    build_store,
    customer_id,
    customer_updated_at,
    make_client,
    order_id,
)

ENDPOINT = "/admin/api/2026-10/graphql.json"
RUN_BULK = """
mutation Run($q: String!) {
  bulkOperationRunQuery(query: $q) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""
BULK_STATUS = """
query Status($id: ID!) {
  bulkOperation(id: $id) {
    id status errorCode objectCount rootObjectCount fileSize url partialDataUrl query
  }
}"""


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def shopify_store() -> Iterator[duckdb.DuckDBPyConnection]:
    """Built once: every test only reads it."""
    con = build_store()
    yield con
    con.close()


@pytest.fixture
def shopify_client(
    shopify_store: duckdb.DuckDBPyConnection, fake_clock: FakeClock, tmp_path: Path
) -> Iterator[TestClient]:
    with make_client(FixtureView(shopify_store), fake_clock, tmp_path) as client:
        yield client


@pytest.fixture
def gated_view(shopify_store: duckdb.DuckDBPyConnection) -> Iterator[GatedView]:
    view = GatedView(shopify_store)
    yield view
    view.gate.set()


def gql(client: TestClient, query: str, path: str = ENDPOINT, **variables: Any) -> dict:
    response = client.post(path, json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def customer_ids(client: TestClient, args: str) -> tuple[list[int], dict]:
    body = gql(
        client,
        f"{{ customers({args}) {{ edges {{ cursor node {{ legacyResourceId }} }} "
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
    )
    conn = body["data"]["customers"]
    return [int(e["node"]["legacyResourceId"]) for e in conn["edges"]], conn["pageInfo"]


def wait_for(client: TestClient, op_id: str, path: str = ENDPOINT) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        op = gql(client, BULK_STATUS, path, id=op_id)["data"]["bulkOperation"]
        if op["status"] not in ("CREATED", "RUNNING", "CANCELING"):
            return op
        time.sleep(0.01)
    raise AssertionError(f"bulk operation {op_id} did not finish")


# --- HTTP surface -------------------------------------------------------------------------


def test_wrong_or_missing_token_is_401_with_shopifys_body(shopify_client: TestClient) -> None:
    expected = {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    for headers in ({"X-Shopify-Access-Token": "nope"}, {"X-Shopify-Access-Token": ""}):
        response = shopify_client.post(
            ENDPOINT, json={"query": "{ shop { name } }"}, headers=headers
        )
        assert response.status_code == 401
        assert response.json() == expected


def test_missing_query_is_400(shopify_client: TestClient) -> None:
    response = shopify_client.post(ENDPOINT, json={"variables": {}})
    assert response.status_code == 400
    assert response.json() == {"errors": {"query": "Required parameter missing or invalid"}}


def test_application_graphql_body_and_version_header(shopify_client: TestClient) -> None:
    response = shopify_client.post(
        "/admin/api/2025-07/graphql.json",
        content="{ shop { currencyCode ianaTimezone } }",
        headers={"Content-Type": "application/graphql"},
    )
    assert response.json()["data"]["shop"] == {"currencyCode": "USD", "ianaTimezone": "Etc/UTC"}
    assert response.headers["X-Shopify-API-Version"] == "2025-07"


# --- validation ---------------------------------------------------------------------------


def test_unknown_field_is_a_shopify_shaped_validation_error(shopify_client: TestClient) -> None:
    body = gql(shopify_client, "query Q { customers(first: 1) { nodes { id fooBar } } }")
    assert "data" not in body
    [error] = body["errors"]
    assert error["message"] == "Field 'fooBar' doesn't exist on type 'Customer'"
    assert error["locations"] == [{"line": 1, "column": 44}]
    assert error["path"] == ["query Q", "customers", "nodes", "fooBar"]
    assert error["extensions"] == {
        "code": "undefinedField",
        "typeName": "Customer",
        "fieldName": "fooBar",
    }


def test_bad_arguments_are_reported_like_graphql_ruby(shopify_client: TestClient) -> None:
    body = gql(
        shopify_client, "{ customer { id } orders(first: 1, sortKey: NAME) { nodes { id } } }"
    )
    by_code = {e["extensions"]["code"]: e for e in body["errors"]}
    assert by_code["missingRequiredArguments"]["message"] == (
        "Field 'customer' is missing required arguments: id"
    )
    assert by_code["argumentLiteralsIncompatible"]["message"] == (
        "Argument 'sortKey' on Field 'orders' has an invalid value (NAME). "
        "Expected type 'OrderSortKeys'."
    )
    body = gql(shopify_client, "{ shop }")
    assert body["errors"][0]["extensions"]["code"] == "selectionMismatch"


def test_page_size_arguments_are_checked(shopify_client: TestClient) -> None:
    for args, message in (
        ("", "you must provide one of first or last"),
        ("first: 1, last: 1", "providing both first and last is not supported"),
    ):
        body = gql(
            shopify_client, f"{{ customers{f'({args})' if args else ''} {{ nodes {{ id }} }} }}"
        )
        assert body["data"] is None
        assert body["errors"][0]["message"] == message
        assert body["errors"][0]["path"] == ["customers"]
    body = gql(shopify_client, "{ customers(first: 251) { nodes { id } } }")
    assert "Expected a page size from 0 to 250" in body["errors"][0]["message"]


# --- pagination ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("ID", [customer_id(i) for i in range(1, N_CUSTOMERS + 1)]),
        (
            "UPDATED_AT",
            [
                customer_id(i)
                for i in sorted(
                    range(1, N_CUSTOMERS + 1), key=lambda i: (customer_updated_at(i), i)
                )
            ],
        ),
    ],
)
def test_forward_pages_cover_every_row_once(
    shopify_client: TestClient, sort: str, expected: list[int]
) -> None:
    seen: list[int] = []
    after = ""
    while True:
        ids, info = customer_ids(shopify_client, f"first: 7, sortKey: {sort}{after}")
        seen.extend(ids)
        assert info["hasPreviousPage"] is bool(after)
        if not info["hasNextPage"]:
            break
        after = f', after: "{info["endCursor"]}"'
    assert seen == expected


def test_backward_and_reversed_pages(shopify_client: TestClient) -> None:
    everything = [customer_id(i) for i in range(1, N_CUSTOMERS + 1)]
    ids, info = customer_ids(shopify_client, "last: 4")
    assert ids == everything[-4:]
    assert info["hasPreviousPage"] and not info["hasNextPage"]
    ids, info = customer_ids(shopify_client, f'last: 4, before: "{info["startCursor"]}"')
    assert ids == everything[-8:-4]
    assert info["hasNextPage"]
    ids, _ = customer_ids(shopify_client, "first: 3, reverse: true")
    assert ids == everything[::-1][:3]


def test_invalid_cursor_is_an_error(shopify_client: TestClient) -> None:
    body = gql(shopify_client, '{ customers(first: 2, after: "not-a-cursor") { nodes { id } } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# --- search syntax ------------------------------------------------------------------------


def _updated(predicate: Callable[[datetime], bool]) -> set[int]:
    return {i for i in range(1, N_CUSTOMERS + 1) if predicate(customer_updated_at(i))}


def _created(predicate: Callable[[datetime], bool]) -> set[int]:
    return {i for i in range(1, N_CUSTOMERS + 1) if predicate(START + timedelta(hours=i))}


T = datetime(2024, 1, 25, 9)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("updated_at:>'2024-01-25T09:00:00Z'", _updated(lambda t: t > T)),
        ("updated_at:>='2024-01-25T09:00:00Z'", _updated(lambda t: t >= T)),
        ('updated_at:<"2024-01-25T09:00:00Z"', _updated(lambda t: t < T)),
        ("updated_at:<=2024-01-25T09:00:00Z", _updated(lambda t: t <= T)),
        # The same instant written with an offset.
        ("updated_at:<=2024-01-25T08:00:00-01:00", _updated(lambda t: t <= T)),
        # A bare date is midnight in the shop's timezone (UTC).
        ("updated_at:<2024-01-25", _updated(lambda t: t < datetime(2024, 1, 25))),
        (
            "created_at:>2024-01-02T00:00:00Z AND created_at:<2024-01-02T03:00:00Z",
            _created(lambda t: datetime(2024, 1, 2) < t < datetime(2024, 1, 2, 3)),
        ),
        (
            "created_at:>2024-01-02T00:00:00Z created_at:<2024-01-02T03:00:00Z",
            _created(lambda t: datetime(2024, 1, 2) < t < datetime(2024, 1, 2, 3)),
        ),
        ("id:<=1003 OR id:>1029", {1, 2, 3, 30}),
        ("-id:>1002", {1, 2}),
    ],
)
def test_search_filters(shopify_client: TestClient, query: str, expected: set[int]) -> None:
    assert 0 < len(expected) < N_CUSTOMERS  # each case must actually discriminate
    body = gql(
        shopify_client,
        "query F($q: String) { customers(first: 250, query: $q) { nodes { legacyResourceId } } }",
        q=query,
    )
    got = {int(n["legacyResourceId"]) - 1000 for n in body["data"]["customers"]["nodes"]}
    assert got == expected
    assert "search" not in body["extensions"]


def test_exact_boundaries_of_strict_and_inclusive_comparisons(shopify_client: TestClient) -> None:
    # Customer 1 is updated at exactly 2024-01-08T10:00:00Z.
    stamp = "2024-01-08T10:00:00Z"
    nodes = "{ nodes { legacyResourceId } }"
    strict = gql(
        shopify_client, f'{{ customers(first: 250, query: "updated_at:>{stamp}") {nodes} }}'
    )
    inclusive = gql(
        shopify_client, f'{{ customers(first: 250, query: "updated_at:>={stamp}") {nodes} }}'
    )
    strict_ids = {n["legacyResourceId"] for n in strict["data"]["customers"]["nodes"]}
    inclusive_ids = {n["legacyResourceId"] for n in inclusive["data"]["customers"]["nodes"]}
    assert inclusive_ids - strict_ids == {"1001"}


def test_unknown_search_terms_are_ignored_with_a_warning(shopify_client: TestClient) -> None:
    body = gql(
        shopify_client,
        '{ customers(first: 250, query: "colour:blue AND id:<1003") { nodes { id } } }',
    )
    assert len(body["data"]["customers"]["nodes"]) == 2
    assert body["extensions"]["search"] == [
        {
            "path": ["customers"],
            "query": "colour:blue AND id:<1003",
            "warnings": [
                {
                    "field": "colour",
                    "message": "Invalid search field for this query.",
                    "code": "invalid_field",
                }
            ],
        }
    ]


# --- object shapes ------------------------------------------------------------------------


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


# --- cost and throttling ------------------------------------------------------------------


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


# --- bulk operations ----------------------------------------------------------------------


def test_bulk_query_lifecycle_and_jsonl(
    shopify_client: TestClient, shopify_store: duckdb.DuckDBPyConnection
) -> None:
    inner = """{ orders(query: "created_at:>=2024-02-05") { edges { node { id name
                  customer { id } lineItems { edges { node { id sku } } } } } } }"""
    created = gql(shopify_client, RUN_BULK, q=inner)
    assert created["extensions"]["cost"]["requestedQueryCost"] == 10
    payload = created["data"]["bulkOperationRunQuery"]
    assert payload["userErrors"] == []
    assert payload["bulkOperation"]["status"] == "CREATED"
    op = wait_for(shopify_client, payload["bulkOperation"]["id"])
    assert op["status"] == "COMPLETED"
    assert op["query"] == inner
    lines_in_store = shopify_store.execute(
        "SELECT count(*) FROM v_order_lines JOIN v_orders USING (order_id) "
        "WHERE created_at >= '2024-02-05'"
    ).fetchone()[0]
    assert op["rootObjectCount"] == "6"
    assert op["objectCount"] == str(6 + lines_in_store)
    download = shopify_client.get(op["url"])
    assert download.status_code == 200
    assert int(op["fileSize"]) == len(download.content)
    assert "gid:\\/\\/shopify\\/Order\\/" in download.text
    rows = [json.loads(line) for line in download.text.splitlines()]
    parent = None
    for row in rows:
        if row["id"].startswith("gid://shopify/Order/"):
            assert "__parentId" not in row and "lineItems" not in row
            parent = row["id"]
        else:
            assert row["__parentId"] == parent
            assert list(row) == ["id", "sku", "__parentId"]
    current = gql(shopify_client, "{ currentBulkOperation { id status } }")
    assert current["data"]["currentBulkOperation"] == {"id": op["id"], "status": "COMPLETED"}


def test_bulk_query_streams_in_chunks_in_sort_order(
    shopify_client: TestClient,
    shopify_store: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shopify_bulk, "CHUNK_SIZE", 7)
    inner = """{ orders(sortKey: ID, reverse: true) { edges { node { id
                  lineItems { edges { node { id } } } } } } }"""
    created = gql(shopify_client, RUN_BULK, q=inner)["data"]["bulkOperationRunQuery"]
    op = wait_for(shopify_client, created["bulkOperation"]["id"])
    rows = [json.loads(line) for line in shopify_client.get(op["url"]).text.splitlines()]
    orders = [r["id"] for r in rows if "__parentId" not in r]
    assert orders == [f"gid://shopify/Order/{order_id(i)}" for i in range(N_ORDERS, 0, -1)]
    lines = {(r["__parentId"], r["id"]) for r in rows if "__parentId" in r}
    expected = shopify_store.execute("SELECT order_id, line_id FROM v_order_lines").fetchall()
    assert lines == {
        (f"gid://shopify/Order/{o}", f"gid://shopify/LineItem/{li}") for o, li in expected
    }


def test_bulk_query_shape_is_checked(shopify_client: TestClient) -> None:
    cases = {
        "{ shop { name } }": "Bulk queries must contain at least one connection.",
        "{ customers { nodes { id } } }": "Selecting via 'nodes' is not supported",
        "{ orders { edges { node { name lineItems { edges { node { id } } } } } } }": (
            "Connection fields without 'id': orders."
        ),
        "{ customers { edges { node { nope } } } }": (
            "Field 'nope' doesn't exist on type 'Customer'"
        ),
        "mutation { bulkOperationCancel(id: 1) { userErrors { message } } }": (
            "Only `query` operations are supported."
        ),
        """{ orders { edges { node { id lineItems { edges { node { id
              product { id variants { edges { node { id } } } } } } } } } } }""": (
            "Bulk queries cannot contain connections with a nesting depth greater than 2."
        ),
        '{ order(id: "gid://shopify/Order/5001") { lineItems { edges { node { id } } } } }': (
            "Bulk queries must select a single top-level connection field."
        ),
    }
    for inner, message in cases.items():
        payload = gql(shopify_client, RUN_BULK, q=inner)["data"]["bulkOperationRunQuery"]
        assert payload["bulkOperation"] is None
        [error] = payload["userErrors"]
        assert message in error["message"]
        assert error["field"] == ["query"] and error["code"] == "INVALID"


def test_one_bulk_query_at_a_time_before_2026_01(
    gated_view: GatedView, fake_clock: FakeClock, tmp_path: Path
) -> None:
    path = "/admin/api/2025-10/graphql.json"
    inner = "{ customers { edges { node { id } } } }"
    with make_client(gated_view, fake_clock, tmp_path) as client:
        first = gql(client, RUN_BULK, path, q=inner)["data"]["bulkOperationRunQuery"]
        running_id = first["bulkOperation"]["id"]
        second = gql(client, RUN_BULK, path, q=inner)["data"]["bulkOperationRunQuery"]
        assert second == {
            "bulkOperation": None,
            "userErrors": [
                {
                    "field": None,
                    "message": "A bulk query operation for this app and shop is already in "
                    f"progress: {running_id}.",
                    "code": "OPERATION_IN_PROGRESS",
                }
            ],
        }
        gated_view.gate.set()
        assert wait_for(client, running_id, path)["objectCount"] == str(N_CUSTOMERS)
        third = gql(client, RUN_BULK, path, q=inner)["data"]["bulkOperationRunQuery"]
        assert third["userErrors"] == []
        assert wait_for(client, third["bulkOperation"]["id"], path)["status"] == "COMPLETED"


def test_five_concurrent_bulk_queries_from_2026_01(
    gated_view: GatedView, fake_clock: FakeClock, tmp_path: Path
) -> None:
    inner = "{ products { edges { node { id variants { edges { node { id sku } } } } } } }"
    with make_client(gated_view, fake_clock, tmp_path) as client:
        ids = []
        for _ in range(5):
            payload = gql(client, RUN_BULK, q=inner)["data"]["bulkOperationRunQuery"]
            assert payload["userErrors"] == []
            ids.append(payload["bulkOperation"]["id"])
        sixth = gql(client, RUN_BULK, q=inner)["data"]["bulkOperationRunQuery"]
        assert sixth["userErrors"][0]["code"] == "LIMIT_REACHED"
        gated_view.gate.set()
        for op_id in ids:
            op = wait_for(client, op_id)
            assert (op["status"], op["rootObjectCount"], op["objectCount"]) == (
                "COMPLETED",
                "4",
                "12",
            )


def test_bulk_cancel_and_empty_result(
    gated_view: GatedView, fake_clock: FakeClock, tmp_path: Path
) -> None:
    cancel = """mutation($id: ID!) { bulkOperationCancel(id: $id) {
                  bulkOperation { status } userErrors { field message } } }"""
    with make_client(gated_view, fake_clock, tmp_path) as client:
        started = gql(client, RUN_BULK, q="{ customers { edges { node { id } } } }")
        op_id = started["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
        canceling = gql(client, cancel, id=op_id)["data"]["bulkOperationCancel"]
        assert canceling == {"bulkOperation": {"status": "CANCELING"}, "userErrors": []}
        gated_view.gate.set()
        assert wait_for(client, op_id)["status"] == "CANCELED"
        missing = gql(client, cancel, id="gid://shopify/BulkOperation/999")["data"]
        assert missing["bulkOperationCancel"]["userErrors"] == [
            {"field": ["id"], "message": "Bulk operation does not exist"}
        ]
        empty = gql(client, RUN_BULK, q='{ customers(query: "id:<0") { edges { node { id } } } }')
        op = wait_for(client, empty["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"])
        assert (op["status"], op["objectCount"], op["url"]) == ("COMPLETED", "0", None)


def test_unknown_bulk_file_is_404(shopify_client: TestClient) -> None:
    assert shopify_client.get("/bulk-operation-outputs/42.jsonl").status_code == 404
