"""Mailchimp ingest assets: audience members, campaigns sent, and per-recipient email activity.

Grain: `raw_mailchimp.members` one row per member (subscriber hash) with status (consent), tags
and merge fields, pulled by `last_changed` day; `raw_mailchimp.campaigns` one row per campaign,
by send day; `raw_mailchimp.email_activity` one row per (campaign, recipient, action, instant)
(sent, open, click, bounce, unsubscribe), by the day it happened, each loaded once.
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
from pipeline.defs.resources import MailchimpResource, WarehouseResource
from pipeline.lib.clients.mailchimp import MailchimpClient

DESCRIPTIONS = {
    "members": "Mailchimp audience members (one row per member) with status (subscribed, "
    "unsubscribed, cleaned, transactional), tags and merge fields.",
    "campaigns": "Mailchimp campaigns sent to the audience (one row per campaign).",
    "email_activity": "Mailchimp email activity (one row per campaign, recipient, action and "
    "instant): sends, opens, clicks, bounces and unsubscribes (abuse complaints included).",
}


def _activity(
    client: MailchimpClient, list_id: str, start, end, config: IngestConfig
) -> Iterator[dict]:
    return client.fetch_email_activity_between(
        list_id, start, end, lookback_days=config.mailchimp_activity_lookback_days
    )


FETCH: dict[str, Callable[..., Iterator[dict]]] = {
    "members": lambda client, list_id, start, end, _config: client.fetch_members_changed_between(
        list_id, start, end
    ),
    "campaigns": lambda client, list_id, start, end, _config: client.fetch_campaigns_sent_between(
        list_id, start, end
    ),
    "email_activity": _activity,
}


def _mailchimp_asset(table: str) -> dg.AssetsDefinition:
    key = ["mailchimp", table]

    @dg.asset(**ingest_asset_args(key, DESCRIPTIONS[table], "mailchimp"))
    def _asset(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        mailchimp: MailchimpResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        if not mailchimp.configured:
            with warehouse.connect() as con:
                return not_configured_result(context, "Mailchimp", key, con)
        client = mailchimp.client()
        list_id = client.find_audience(mailchimp.audience)["id"]
        start, end = fetch_window(context)
        context.log.info(f"Fetching Mailchimp {table} in [{start:%Y-%m-%d}, {end:%Y-%m-%d})")
        records = FETCH[table](client, list_id, start, end, config)
        return load_fetched(context, key, records, client.session.stats, warehouse, config)

    return _asset


mailchimp_assets = [_mailchimp_asset(table) for table in ("members", "campaigns", "email_activity")]
