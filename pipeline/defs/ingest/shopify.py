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
    load_fetched,
    not_configured_result,
)
from pipeline.defs.resources import ShopifyResource, WarehouseResource

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
        return load_fetched(context, key, records, client.session.stats, warehouse, config)

    return _asset


shopify_assets = [
    _shopify_asset(table) for table in ("customers", "orders", "products", "abandoned_checkouts")
]
