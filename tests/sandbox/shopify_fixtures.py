"""Helpers for the Shopify emulator tests: a small deterministic store and test clients, and
GraphQL helpers (a query, a page of customer ids, waiting for a bulk operation).

The store is an in-memory DuckDB whose tables are named and typed like the sandbox views
(`v_orders`, ...), wrapped in the two things the emulator uses from a StoreView: `now` and
`cursor()`.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from starlette.applications import Starlette
from starlette.testclient import TestClient

from sandbox.context import SandboxContext
from sandbox.shopify.api import shopify_routes
from sandbox.shopify.bulk import THREAD_PREFIX

TOKEN = "shpat-test-token"
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
NOW = datetime(2024, 6, 1, 12, 0, 0)
START = datetime(2024, 1, 1, 9, 0, 0)
N_CUSTOMERS = 30
N_ORDERS = 40
STATES = ("SUBSCRIBED", "UNSUBSCRIBED", "NOT_SUBSCRIBED")
TYPES = ("coffee", "tea", "equipment", "gifts")

_DDL = """
CREATE TABLE v_shopify_customers (customer_id BIGINT, email VARCHAR, first_name VARCHAR,
  last_name VARCHAR, phone VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP,
  marketing_state VARCHAR, consent_updated_at TIMESTAMP, number_of_orders BIGINT,
  amount_spent DECIMAL(12,2), tags VARCHAR[]);
CREATE TABLE v_products (product_id BIGINT, variant_id BIGINT, title VARCHAR,
  product_type VARCHAR, vendor VARCHAR, sku VARCHAR, price DECIMAL(10,2),
  created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE v_orders (order_id BIGINT, name VARCHAR, customer_id BIGINT, email VARCHAR,
  created_at TIMESTAMP, updated_at TIMESTAMP, processed_at TIMESTAMP,
  tz_offset_minutes INTEGER, currency VARCHAR, subtotal DECIMAL(12,2),
  total_discounts DECIMAL(12,2), total_price DECIMAL(12,2), discount_codes VARCHAR[],
  test BOOLEAN, financial_status VARCHAR, total_refunded DECIMAL(12,2),
  cancelled_at TIMESTAMP);
CREATE TABLE v_order_lines (line_id BIGINT, order_id BIGINT, product_id BIGINT,
  variant_id BIGINT, title VARCHAR, sku VARCHAR, quantity INTEGER, unit_price DECIMAL(10,2));
CREATE TABLE v_abandoned_checkouts (checkout_id BIGINT, customer_id BIGINT, email VARCHAR,
  created_at TIMESTAMP, updated_at TIMESTAMP, total_price DECIMAL(12,2), currency VARCHAR);
CREATE TABLE v_checkout_lines (line_id BIGINT, checkout_id BIGINT, product_id BIGINT,
  variant_id BIGINT, title VARCHAR, sku VARCHAR, quantity INTEGER, unit_price DECIMAL(10,2));
"""


def customer_id(i: int) -> int:
    return 1000 + i


def order_id(i: int) -> int:
    return 5000 + i


def customer_updated_at(i: int) -> datetime:
    # Deliberately not monotone in id, so sorting by UPDATED_AT differs from sorting by ID.
    return START + timedelta(days=(i * 7) % N_CUSTOMERS, hours=i)


def _customers() -> list[list[object]]:
    rows = []
    for i in range(1, N_CUSTOMERS + 1):
        rows.append(
            [
                customer_id(i),
                None if i % 10 == 0 else f"Customer{i}@Example.com",
                f"First{i}",
                None if i % 7 == 0 else f"Last{i}",
                None,
                START + timedelta(hours=i),
                customer_updated_at(i),
                STATES[i % 3],
                START + timedelta(days=2) if i % 3 != 2 else None,
                i % 4,
                f"{i * 12.5:.2f}",
                ["vip"] if i % 5 == 0 else [],
            ]
        )
    return rows


def _products() -> list[list[object]]:
    return [
        [
            p,
            p * 10 + v,
            f"Product {p}",
            TYPES[p - 1],
            "Foresight Roasters",
            f"SKU-{p}-{v}",
            f"{p * 5 + v}.50",
            START - timedelta(days=30),
            START - timedelta(days=30 - p),
        ]
        for p in range(1, 5)
        for v in (1, 2)
    ]


def _orders() -> tuple[list[list[object]], list[list[object]]]:
    orders, lines = [], []
    for i in range(1, N_ORDERS + 1):
        created = START + timedelta(days=i, minutes=12)
        buyer = None if i % 9 == 0 else (i % N_CUSTOMERS) + 1
        orders.append(
            [
                order_id(i),
                f"#{1000 + i}",
                customer_id(buyer) if buyer else None,
                f"customer{buyer}@example.com" if buyer else None,
                created,
                created + timedelta(hours=i % 5),
                created,
                (0, -300, -240)[i % 3],
                "USD",
                "20.00",
                "2.50" if i % 4 == 0 else "0.00",
                "17.50" if i % 4 == 0 else "20.00",
                ["SAVE10"] if i % 4 == 0 else [],
                False,
                "PAID" if i % 6 else "REFUNDED",
                "20.00" if i % 6 == 0 else "0.00",
                None,
            ]
        )
        for k in range(1 + i % 3):
            p = 1 + (i + k) % 4
            line = [len(lines) + 1, order_id(i), p, p * 10 + 1, f"Product {p}", f"SKU-{p}-1"]
            lines.append([*line, 1 + k, "10.00"])
    return orders, lines


def build_store() -> duckdb.DuckDBPyConnection:
    """The fixture store: 30 customers, 4 products x 2 variants, 40 orders, 6 checkouts."""
    con = duckdb.connect(":memory:")
    con.execute(_DDL)
    orders, lines = _orders()
    checkouts = [
        [
            9000 + c,
            customer_id(c) if c % 2 else None,
            None,
            START + timedelta(days=c),
            START + timedelta(days=c, hours=1),
            "30.00",
            "USD",
        ]
        for c in range(1, 7)
    ]
    checkout_lines = [
        [70 + c, 9000 + c, 2, 21, "Product 2", "SKU-2-1", 3, "10.00"] for c in range(1, 7)
    ]
    for table, rows in (
        ("v_shopify_customers", _customers()),
        ("v_products", _products()),
        ("v_orders", orders),
        ("v_order_lines", lines),
        ("v_abandoned_checkouts", checkouts),
        ("v_checkout_lines", checkout_lines),
    ):
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    return con


class FixtureView:
    """The part of StoreView the emulator uses: `now` and a fresh cursor per caller."""

    def __init__(self, con: duckdb.DuckDBPyConnection, now: datetime = NOW) -> None:
        self.con = con
        self.now = now

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.con.cursor()


class GatedView(FixtureView):
    """A view whose cursors, when opened by a bulk worker thread, wait for `gate` to open.

    Bulk operations read from a worker thread; holding the gate keeps them RUNNING so tests
    can observe that state and the concurrency limit deterministically.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__(con)
        self.gate = threading.Event()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        if threading.current_thread().name.startswith(THREAD_PREFIX):
            self.gate.wait(timeout=10)
        return super().cursor()


class FakeClock:
    """A monotonic clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingView(FixtureView):
    """A view that counts the SQL statements run through its cursors (to catch N+1 reads)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__(con)
        self.statements = 0

    def cursor(self) -> _CountingCursor:
        return _CountingCursor(super().cursor(), self)


class _CountingCursor:
    def __init__(self, inner: duckdb.DuckDBPyConnection, view: CountingView) -> None:
        self._inner = inner
        self._view = view

    def execute(self, *args: object) -> duckdb.DuckDBPyConnection:
        self._view.statements += 1
        return self._inner.execute(*args)

    def close(self) -> None:
        self._inner.close()


def make_client(
    view: FixtureView, clock: FakeClock, bulk_dir: Path, scale: float = 1.0
) -> TestClient:
    ctx = SandboxContext(
        view=view,
        state=None,  # type: ignore[arg-type]
        rate_limit_scale=scale,
        api_token=TOKEN,
        clock=clock,
    )
    app = Starlette(routes=shopify_routes(ctx, bulk_dir=bulk_dir))
    return TestClient(app, headers={"X-Shopify-Access-Token": TOKEN})


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
