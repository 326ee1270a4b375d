"""Ingest throughput on a 100k-customer sandbox shop: records/s from the APIs, rows/s into DuckDB.

Shopify entities come through one bulk operation each over the whole history (what a first load
or a backfill does); Klaviyo profiles over the whole history and events over the last
`EVENT_DAYS` days, page by page at the platforms' real rate limits. Fetching and loading are
timed separately so both numbers mean what they say.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.lib.clients.http import ApiSession
from pipeline.lib.clients.klaviyo import KlaviyoClient
from pipeline.lib.clients.shopify import SHOPIFY_API_VERSION, ShopifyClient
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.warehouse import connect
from sandbox.context import DEFAULT_API_TOKEN
from sandbox.server import build_app, open_sandbox
from sandbox.shop.simulator import StoreSpec
from sandbox.threaded_server import ThreadedServer

EVENT_DAYS = 30


def measure_ingest(customers: int, data_dir: Path) -> Iterator[tuple[str, int, float, float]]:
    """(table, records, fetch records/s, load rows/s) per source table, as each is measured."""
    spec = StoreSpec(customers=customers)
    ctx = open_sandbox(spec, data_dir)
    end = datetime.combine(spec.end, datetime.min.time(), tzinfo=UTC)
    start = datetime(1970, 1, 1, tzinfo=UTC)  # the first load takes everything ever changed
    warehouse = data_dir / "bench-warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    with ThreadedServer(build_app(ctx, bulk_dir=data_dir / "bulk")) as server:
        shopify = ShopifyClient(
            f"{server.url}/admin/api/{SHOPIFY_API_VERSION}/graphql.json",
            DEFAULT_API_TOKEN,
            ApiSession("Shopify", "SHOPIFY_ACCESS_TOKEN"),
        )
        klaviyo = KlaviyoClient(
            server.url, DEFAULT_API_TOKEN, ApiSession("Klaviyo", "KLAVIYO_API_KEY")
        )
        fetches = {
            ("shopify", t): (lambda t=t: shopify.fetch_updated_between(t, start, end, bulk=True))
            for t in ("customers", "orders", "products", "abandoned_checkouts")
        }
        fetches[("klaviyo", "profiles")] = lambda: klaviyo.fetch_profiles_updated_between(
            start, end
        )
        fetches[("klaviyo", "events")] = lambda: klaviyo.fetch_events_between(
            end - timedelta(days=EVENT_DAYS), end
        )
        for key, fetch in fetches.items():
            began = time.perf_counter()
            records = list(fetch())
            fetched = time.perf_counter() - began
            began = time.perf_counter()
            with connect(warehouse) as con:
                load_records(con, RAW_TABLES[key], records, "bench")
            loaded = time.perf_counter() - began
            yield "/".join(key), len(records), len(records) / fetched, len(records) / loaded
