"""Klaviyo ingest assets: profiles, events, lists and metrics.

Grain: one raw row per Klaviyo id in `raw_klaviyo.<table>`. Profiles (with subscription and
suppression state) are pulled by `updated` day and events by occurrence day; lists and metrics
are small catalogues re-read whole on every run.
"""

from collections.abc import Callable, Iterator

import dagster as dg

from pipeline.defs.ingest.common import (
    IngestConfig,
    fetch_window,
    ingest_asset_args,
    load_fetched,
    not_configured_result,
)
from pipeline.defs.resources import KlaviyoResource, WarehouseResource
from pipeline.lib.clients.klaviyo import KlaviyoClient

DESCRIPTIONS = {
    "profiles": "Klaviyo profiles (one row per profile id) with email marketing consent and "
    "suppression state.",
    "events": "Klaviyo events (one row per event id): email received/opened/clicked/bounced/"
    "unsubscribed/marked as spam, viewed product, added to cart, started checkout, placed order.",
    "lists": "Klaviyo lists (one row per list id).",
    "metrics": "Klaviyo metrics (one row per metric id): the event types events refer to.",
}
WINDOWED: dict[str, Callable[..., Iterator[dict]]] = {
    "profiles": KlaviyoClient.fetch_profiles_updated_between,
    "events": KlaviyoClient.fetch_events_between,
}
WHOLE: dict[str, Callable[..., Iterator[dict]]] = {
    "lists": KlaviyoClient.fetch_lists,
    "metrics": KlaviyoClient.fetch_metrics,
}


def _klaviyo_asset(table: str) -> dg.AssetsDefinition:
    key = ["klaviyo", table]
    windowed = table in WINDOWED

    @dg.asset(**ingest_asset_args(key, DESCRIPTIONS[table], "klaviyo", partitioned=windowed))
    def _asset(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        klaviyo: KlaviyoResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        if not klaviyo.configured:
            with warehouse.connect() as con:
                return not_configured_result(context, "Klaviyo", key, con)
        client = klaviyo.client()
        if windowed:
            start, end = fetch_window(context)
            context.log.info(f"Fetching Klaviyo {table} in [{start:%Y-%m-%d}, {end:%Y-%m-%d})")
            records = WINDOWED[table](client, start, end)
        else:
            records = WHOLE[table](client)
        return load_fetched(context, key, records, client.session.stats, warehouse, config)

    return _asset


klaviyo_assets = [_klaviyo_asset(table) for table in ("profiles", "events", "lists", "metrics")]
