"""Shopify ingest assets: customers, orders (with line items), products, abandoned checkouts.

Grain: one raw row per Shopify record id in `raw_shopify.<table>`, holding the latest version
fetched. Each daily partition pulls the records updated in that UTC day; a long window (first
load, backfill) is one bulk operation instead of thousands of pages.
"""

from datetime import timedelta

import dagster as dg

from pipeline.defs.ingest.common import (
    IngestConfig,
    fetch_window,
    ingest_asset_args,
    ingest_result,
    not_configured_result,
)
from pipeline.defs.resources import ShopifyResource, WarehouseResource
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.spool import spooled
from pipeline.lib.ingest.warehouse import load_records

DESCRIPTIONS = {
    "customers": "Shopify customers (one row per customer id): contact fields, marketing consent, "
    "order count and spend as Shopify reports them.",
    "orders": "Shopify orders (one row per order id) with their line items, discounts, refunds, "
    "test flag and processing time.",
    "products": "Shopify products (one row per product id) with variants and product type.",
    "abandoned_checkouts": "Shopify abandoned checkouts (one row per checkout id) with items.",
}


def _shopify_asset(table: str) -> dg.AssetsDefinition:
    key = ["shopify", table]

    @dg.asset(**ingest_asset_args(key, DESCRIPTIONS[table], "shopify"))
    def _asset(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        shopify: ShopifyResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        if not shopify.configured:
            with warehouse.connect() as con:
                return not_configured_result(context, "Shopify", key, con)
        start, end = fetch_window(context)
        bulk = end - start > timedelta(days=config.bulk_after_days)
        client = shopify.client()
        context.log.info(
            f"Fetching Shopify {table} updated in [{start:%Y-%m-%d}, {end:%Y-%m-%d})"
            f" {'with a bulk operation' if bulk else 'page by page'}"
        )
        records = client.fetch_updated_between(table, start, end, bulk=bulk)
        # Page through the API first; the warehouse is opened (and locked) only to load.
        with spooled(records) as fetched, warehouse.connect() as con:
            loaded = load_records(con, RAW_TABLES[tuple(key)], fetched, context.run.run_id)
        return ingest_result(key, loaded, client.session.stats, config.max_quarantined_share)

    return _asset


shopify_assets = [
    _shopify_asset(table) for table in ("customers", "orders", "products", "abandoned_checkouts")
]
