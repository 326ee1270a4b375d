"""A tiny deterministic store and client for the Klaviyo emulator tests.

The store is an in-memory DuckDB with tables named like the sandbox views (`v_klaviyo_profiles`,
`v_metrics`, `v_events`, with the contract's columns) and a few dozen rows, including the dirt the
real store has: email case/whitespace variants, a NULL and an invalid email, events sharing a
timestamp, non-UTC offsets.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta

import duckdb
from starlette.applications import Starlette
from starlette.testclient import TestClient

from sandbox.context import SandboxContext
from sandbox.klaviyo.api import klaviyo_routes
from sandbox.state import SandboxState

NOW = datetime(2024, 6, 1)
TOKEN = "sandbox-key"
REVISION = "2026-07-15"
HEADERS = {"Authorization": f"Klaviyo-API-Key {TOKEN}", "revision": REVISION}
JSON_API = {"Content-Type": "application/vnd.api+json"}
N_PROFILES = 30
N_EVENTS = 60
METRICS = [
    "Received Email",
    "Opened Email",
    "Clicked Email",
    "Bounced Email",
    "Unsubscribed from Email Marketing",
    "Marked Email as Spam",
    "Viewed Product",
    "Added to Cart",
    "Started Checkout",
    "Placed Order",
]
_CONSENTS = ("SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED")


def profile_id(n: int) -> str:
    return f"01HPROFILE{n:016d}"


def metric_id(n: int) -> str:
    return f"MET{n:03d}"


def email_of(n: int) -> str | None:
    """Mostly clean emails; a few dirty ones like the real store's."""
    return {3: "  User3@Example.COM ", 5: None, 7: "not-an-email"}.get(n, f"user{n}@example.com")


@functools.cache
def build_store() -> duckdb.DuckDBPyConnection:
    """Built once per test session: the emulator only reads it."""
    con = duckdb.connect(":memory:")
    con.execute(
        """create table v_klaviyo_profiles (profile_id varchar, email varchar, first_name varchar,
        last_name varchar, phone_number varchar, created timestamp, updated timestamp,
        consent varchar, consent_timestamp timestamp, consent_method varchar,
        suppression_reason varchar, suppression_timestamp timestamp)"""
    )
    for n in range(N_PROFILES):
        created = NOW - timedelta(days=60 - n)
        consent = _CONSENTS[n % 3]
        suppressed = n % 10 == 4
        con.execute(
            "insert into v_klaviyo_profiles values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                profile_id(n),
                email_of(n),
                f"First{n}",
                f"Last{n}",
                f"+1555000{n:04d}" if n % 4 == 0 else None,
                created,
                created + timedelta(hours=n),
                consent,
                created if consent != "NEVER_SUBSCRIBED" else None,
                "Shopify" if consent != "NEVER_SUBSCRIBED" else None,
                "HARD_BOUNCE" if suppressed else None,
                created + timedelta(days=1) if suppressed else None,
            ],
        )
    con.execute(
        """create table v_metrics (metric_id varchar, name varchar, integration_name varchar,
        integration_category varchar, created timestamp, updated timestamp)"""
    )
    for n, name in enumerate(METRICS):
        integration = ("Shopify", "eCommerce") if n >= 6 else ("Klaviyo", "Internal")
        con.execute(
            "insert into v_metrics values (?, ?, ?, ?, ?, ?)",
            [metric_id(n), name, *integration, NOW - timedelta(days=400), NOW - timedelta(days=1)],
        )
    con.execute(
        """create table v_events (event_id varchar, metric_id varchar, profile_id varchar,
        occurred_at timestamp, tz_offset_minutes integer, value double, properties varchar,
        event_uuid varchar)"""
    )
    base = datetime(2024, 1, 1)
    for n in range(N_EVENTS):
        metric = n % len(METRICS)
        # Pairs of events share a timestamp so pagination must break ties by event_id.
        occurred = base + timedelta(hours=6 * (n // 2))
        value = 10.0 + n if METRICS[metric] == "Placed Order" else None
        con.execute(
            "insert into v_events values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                f"EV{n:05d}",
                metric_id(metric),
                profile_id(n % N_PROFILES),
                occurred,
                (0, -300, -240)[n % 3],
                value,
                json.dumps({"Subject": f"Mail {n}"} if metric < 6 else {"ProductID": n}),
                f"00000000-0000-0000-0000-{n:012d}",
            ],
        )
    return con


class FakeView:
    """The `StoreView` shape: `now` and `cursor()` over the view-named tables."""

    def __init__(self, con: duckdb.DuckDBPyConnection, now: datetime = NOW) -> None:
        self._con, self.now = con, now

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()


class FakeClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def make_ctx(
    state: SandboxState | None = None, scale: float = 1.0, clock: FakeClock | None = None
) -> SandboxContext:
    return SandboxContext(
        view=FakeView(build_store()),
        state=state or SandboxState(":memory:"),
        rate_limit_scale=scale,
        api_token=TOKEN,
        clock=clock or FakeClock(),
    )


def make_client(ctx: SandboxContext) -> TestClient:
    return TestClient(Starlette(routes=klaviyo_routes(ctx)), headers=HEADERS)


def import_body(profiles: list[dict], list_id: str | None = None) -> dict:
    body: dict = {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": profiles}},
        }
    }
    if list_id:
        body["data"]["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
    return body


def profile_item(email: str | None = None, pid: str | None = None, **properties) -> dict:
    item: dict = {"type": "profile", "attributes": {"properties": properties}}
    if email is not None:
        item["attributes"]["email"] = email
    if pid is not None:
        item["id"] = pid
    return item


def members_body(ids: list[str]) -> dict:
    return {"data": [{"type": "profile", "id": i} for i in ids]}


def walk(client, url, params=None):
    """Follow links.next from the first page; returns every page's data."""
    pages = []
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json()["data"])
        next_url = response.json()["links"].get("next")
        if not next_url:
            return pages
        response = client.get(next_url)


def ids(pages):
    return [item["id"] for page in pages for item in page]


def new_list(client, name="VIP"):
    body = {"data": {"type": "list", "attributes": {"name": name}}}
    response = client.post("/api/lists", json=body, headers=JSON_API)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def run_import(client, body):
    response = client.post("/api/profile-bulk-import-jobs", json=body, headers=JSON_API)
    assert response.status_code == 202, response.text
    return response.json()["data"]
