"""Run the first daily refresh for one shop setup (the platforms it has) against a small sandbox
shop, and read back what the syncs left on the platforms."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from pipeline.defs.activation.sync import sync_assets
from pipeline.defs.ingest.files import files_orders
from pipeline.defs.ingest.klaviyo import klaviyo_assets
from pipeline.defs.ingest.mailchimp import mailchimp_assets
from pipeline.defs.ingest.shopify import shopify_assets
from pipeline.defs.jobs import daily_refresh, first_refresh
from pipeline.defs.ml.score import customer_scores
from pipeline.defs.ml.train import model_runs
from pipeline.defs.partitions import partition_range_tags
from pipeline.defs.resources import (
    KlaviyoResource,
    MailchimpResource,
    ShopifyResource,
    WarehouseResource,
)
from pipeline.defs.transform.dbt import dbt_model_assets, dbt_resource
from pipeline.lib.clients.shopify import SHOPIFY_API_VERSION
from sandbox.faults import FaultSpec
from sandbox.server import build_app, open_sandbox, resolve_now
from sandbox.shop.simulator import StoreSpec, ensure_store
from sandbox.shop.store import StoreView
from sandbox.threaded_server import ThreadedServer
from tests.instances import product_storage_instance

SETUP_STORE = StoreSpec(seed=11, customers=300, start=date(2024, 1, 1), days=90)
KEY = "sandbox-key"
ASSETS = [
    *shopify_assets,
    *klaviyo_assets,
    *mailchimp_assets,
    files_orders,
    *dbt_model_assets,
    model_runs,
    customer_scores,
    *sync_assets,
]


@contextmanager
def setup_sandbox(data_dir: Path):
    """The setups' small store on 127.0.0.1; yields the base URL."""
    ctx = open_sandbox(SETUP_STORE, data_dir, rate_limit_scale=50, api_token=KEY)
    app = build_app(ctx, FaultSpec.parse("", seed=4), bulk_dir=data_dir / "bulk")
    with ThreadedServer(app) as server:
        yield server.url


def setup_resources(url: str, warehouse: Path, platforms: set[str]) -> dict:
    """Resources of a shop that has exactly `platforms` (the others are not configured)."""
    shopify = ShopifyResource()
    if "shopify" in platforms:
        shopify = ShopifyResource(
            api_url=f"{url}/admin/api/{SHOPIFY_API_VERSION}/graphql.json", access_token=KEY
        )
    klaviyo = KlaviyoResource(api_url=url, api_key=KEY) if "klaviyo" in platforms else None
    mailchimp = MailchimpResource(api_url=f"{url}/3.0", api_key=KEY)
    return {
        "shopify": shopify,
        "klaviyo": klaviyo or KlaviyoResource(),
        "mailchimp": mailchimp if "mailchimp" in platforms else MailchimpResource(),
        "warehouse": WarehouseResource(path=str(warehouse)),
        "dbt": dbt_resource(),
    }


LAST_DAY = SETUP_STORE.start + timedelta(days=SETUP_STORE.days - 1)


def run_first_refresh(
    url: str,
    warehouse: Path,
    platforms: set[str],
    job: str = "first_refresh",
    first_day: date | None = None,
) -> dg.ExecuteInProcessResult:
    """The first refresh over the store's whole history, as `make demo` runs it (or another of
    the daily jobs, from `first_day` on, e.g. `daily_refresh` over the last day again)."""
    defs = dg.Definitions(
        assets=ASSETS,
        jobs=[first_refresh, daily_refresh],
        resources=setup_resources(url, warehouse, platforms),
    )
    first_day = first_day or SETUP_STORE.start
    with product_storage_instance() as instance:
        return defs.resolve_job_def(job).execute_in_process(
            tags=partition_range_tags(first_day.isoformat(), LAST_DAY.isoformat()),
            raise_on_error=False,
            instance=instance,
        )


def write_order_csv(data_dir: Path, out: Path) -> int:
    """The store's order history as a shop's CSV export (one row per order, its first item's
    product); how many orders were written."""
    store = ensure_store(SETUP_STORE, data_dir / "stores")
    view = StoreView(store, resolve_now(SETUP_STORE, None))
    try:
        cur = view.cursor()
        cur.execute(
            """copy (
                select o.order_id, o.customer_id, o.created_at as ordered_at,
                    o.total_price as total, o.email, o.currency,
                    first(l.quantity order by l.line_id) as quantity,
                    first(l.title order by l.line_id) as product,
                    first(p.product_type order by l.line_id) as category
                from v_orders as o
                left join v_order_lines as l on o.order_id = l.order_id
                left join v_products as p on l.product_id = p.product_id
                where not o.test
                group by all order by ordered_at
            ) to '"""
            + str(out)
            + "' (header)"
        )
        return cur.execute(f"select count(*) from read_csv('{out}')").fetchone()[0]
    finally:
        view.close()
