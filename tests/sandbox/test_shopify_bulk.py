"""The Shopify emulator's bulk operations: lifecycle, JSONL output, shape checks, concurrency by
API version, cancelling."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from starlette.testclient import TestClient

from sandbox.shopify import bulk as shopify_bulk
from tests.sandbox.shopify_fixtures import (
    N_CUSTOMERS,
    N_ORDERS,
    RUN_BULK,
    FakeClock,
    GatedView,
    gql,
    make_client,
    order_id,
    wait_for,
)


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
