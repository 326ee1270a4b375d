"""Helpers for ingest asset tests: a sandbox on loopback, resources, runs over partition ranges."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import dagster as dg

from pipeline.defs.ingest.files import files_orders
from pipeline.defs.ingest.klaviyo import klaviyo_assets
from pipeline.defs.ingest.shopify import shopify_assets
from pipeline.defs.partitions import partition_range_tags
from pipeline.defs.resources import (
    KlaviyoResource,
    MailchimpResource,
    ShopifyResource,
    WarehouseResource,
)
from pipeline.lib.clients.shopify import SHOPIFY_API_VERSION
from pipeline.lib.ingest.warehouse import connect
from sandbox.faults import FaultSpec
from sandbox.server import build_app, open_sandbox
from sandbox.threaded_server import ThreadedServer
from tests.conftest import SMALL_STORE
from tests.instances import product_storage_instance

API_ASSETS = [*shopify_assets, *klaviyo_assets]
ALL_ASSETS = [*API_ASSETS, files_orders]
HISTORY = ("2024-01-01", "2024-08-27")  # the small store's whole history, one partition a day


@contextmanager
def sandbox(data_dir: Path, faults: str = "", now: datetime | None = None):
    """The small store on 127.0.0.1 with its clock at `now` (default: after the history)."""
    ctx = open_sandbox(SMALL_STORE, data_dir, now=now, rate_limit_scale=50)
    app = build_app(ctx, FaultSpec.parse(faults, seed=4), bulk_dir=data_dir / "bulk")
    with ThreadedServer(app) as server:
        yield server.url


def resources(url: str, warehouse: Path, key: str = "sandbox-key") -> dict:
    return {
        "shopify": ShopifyResource(
            api_url=f"{url}/admin/api/{SHOPIFY_API_VERSION}/graphql.json", access_token=key
        ),
        "klaviyo": KlaviyoResource(api_url=url, api_key=key),
        "mailchimp": MailchimpResource(),
        "warehouse": WarehouseResource(path=str(warehouse)),
    }


def ingest(url: str, warehouse: Path, first: str, last: str, key: str = "sandbox-key", **kw):
    """Materialise every API asset over partitions [first, last] in one run."""
    with product_storage_instance() as instance:
        return dg.materialize(
            API_ASSETS,
            resources=resources(url, warehouse, key),
            tags=partition_range_tags(first, last),
            instance=instance,
            **kw,
        )


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every raw row (minus load bookkeeping), per table, in a stable order."""
    with connect(warehouse, read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_schema like 'raw_%' order by 1"
            ).fetchall()
        ]
        return {
            table: con.execute(
                f"select * exclude (_loaded_at, _run_id) from {table} order by all"
            ).fetchall()
            for table in tables
        }


def metadata(result: dg.ExecuteInProcessResult, *key: str) -> dict:
    """The run's metadata for one asset (a range run records it once per partition, alike)."""
    events = [
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.event_specific_data.materialization.asset_key == dg.AssetKey(list(key))
    ]
    assert events, f"no materialization of {key}"
    return {k: v.value for k, v in events[0].metadata.items()}
