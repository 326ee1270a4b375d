"""The syncs of segments and scores to Klaviyo and Mailchimp, as assets after the segment marts.

Each run reads the desired state from the warehouse, diffs it against the destination's ledger
(`activation.sync_ledger` keeps one row per run × contact × action), checks the blast radius
(counting only moves of people with no new activity since the scores the destination last
synced) and sends only the changes (see `pipeline.lib.sync`). Run config `dry_run` stops after
planning: the planned diff becomes the materialisation's metadata and no platform is called.
A blocked blast radius or failed rows fail the blocking check `sync_succeeded`, so the run
shows red and the failure sensor alerts.
"""

from datetime import timedelta

import dagster as dg

from pipeline.defs.resources import KlaviyoResource, MailchimpResource, WarehouseResource
from pipeline.lib.clients.http import ApiSession, RequestStats
from pipeline.lib.sync import (
    BlastRadiusExceeded,
    BlastRadiusPolicy,
    KlaviyoDestination,
    MailchimpDestination,
    SyncLedger,
    SyncResult,
    read_desired_state,
    read_new_activity,
    sync,
)
from pipeline.lib.sync.report import segment_report

SEGMENTS = dg.AssetKey(["marts", "customer_segments"])
CHECK = "sync_succeeded"
OWNERS = ["team:data"]
# The sync runs after the daily refresh; a day and a bit without one means something is wrong.
FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=30), warn_window=timedelta(hours=26)
)


class SyncConfig(dg.Config):
    """Run config of a sync asset."""

    dry_run: bool = False
    """Plan only: record the planned diff (counts per segment, sample rows) and call nothing."""
    max_change_share: float = 0.20
    """Block a live sync that would change list membership of more than this share of contacts,
    or of any segment, counting only people with no new activity of their own since the scores
    last synced (first syncs and changes under `min_changes` people are exempt)."""
    min_changes: int = 50
    """A segment whose change is smaller than this many people never blocks."""
    allow_large_change: bool = False
    """Override the blast-radius block after reviewing a dry run."""
    sample_size: int = 20
    """Rows of the planned diff shown in the metadata (customer ids only)."""


def _asset_args(platform: str, description: str) -> dict:
    key = dg.AssetKey(["activation", f"{platform}_sync"])
    return {
        "key": key,
        "description": description,
        "group_name": "activation",
        "kinds": {platform, "duckdb"},
        "owners": OWNERS,
        "deps": [SEGMENTS],
        "pool": "duckdb",
        "freshness_policy": FRESHNESS,
        "check_specs": [
            dg.AssetCheckSpec(
                CHECK,
                asset=key,
                blocking=True,
                description="Fails when the blast-radius check blocked the sync or any row failed "
                "(failed rows are retried by the next run).",
            )
        ],
    }


@dg.asset(
    **_asset_args(
        "klaviyo",
        "Segments and scores in Klaviyo. Grain: one profile per customer (scores, tiers, "
        "reasons, segments, holdout flag as profile properties) and one static list per "
        "segment ('Foresight: <segment>') holding its marketable, non-holdout members.",
    )
)
def klaviyo_sync(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    klaviyo: KlaviyoResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Sync profile properties and segment lists to Klaviyo (only what changed); without an API
    key, record that it is not configured and call nothing."""
    if not klaviyo.configured:
        return _not_configured(context, "Klaviyo")
    client = klaviyo.write_client()
    return _run_sync(context, config, warehouse, KlaviyoDestination(client), client.session)


@dg.asset(
    **_asset_args(
        "mailchimp",
        "Segments and scores in Mailchimp, when it is configured. Grain: one audience member per "
        "customer with an email (scalar scores and tiers as merge fields; new members "
        "transactional, never subscribed) and one tag per segment ('Foresight: <segment>') on "
        "its subscribed, non-holdout members.",
    )
)
def mailchimp_sync(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    mailchimp: MailchimpResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Sync merge fields and segment tags to Mailchimp; without an API key, record that it is
    not configured and call nothing."""
    if not mailchimp.configured:
        return _not_configured(context, "Mailchimp")
    client = mailchimp.client()
    destination = MailchimpDestination(client, audience=mailchimp.audience)
    return _run_sync(context, config, warehouse, destination, client.session)


def _not_configured(context: dg.AssetExecutionContext, platform: str) -> dg.MaterializeResult:
    context.log.info(f"{platform} is not configured: nothing to sync")
    return dg.MaterializeResult(
        metadata={"status": "not configured"},
        check_results=[dg.AssetCheckResult(check_name=CHECK, passed=True)],
    )


def _run_sync(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    warehouse: WarehouseResource,
    destination: KlaviyoDestination | MailchimpDestination,
    session: ApiSession,
) -> dg.MaterializeResult:
    policy = BlastRadiusPolicy(
        max_share=config.max_change_share,
        min_changes=config.min_changes,
        allow_large_change=config.allow_large_change,
    )
    name = destination.name
    options = {"run_id": context.run_id, "sample_size": config.sample_size, "policy": policy}
    blocked = None
    with warehouse.connect() as con:
        desired = read_desired_state(con, name)
        ledger = SyncLedger(con, name)
        activity = read_new_activity(con, since=ledger.synced_scores_as_of())
        try:
            result = sync(
                desired, destination, ledger, dry_run=config.dry_run, activity=activity, **options
            )
        except BlastRadiusExceeded as error:
            blocked = str(error)
            context.log.error(blocked)
            # Only consent removals were sent: report them with the plan that was blocked.
            result = error.result
        per_segment = segment_report(con, name, result)
    return _materialization(result, per_segment, session.stats, blocked)


def _materialization(
    result: SyncResult, per_segment: dict, stats: RequestStats, blocked: str | None
) -> dg.MaterializeResult:
    """Counts an analyst needs (never emails), and the blocking check's result."""
    status = "blocked" if blocked else "dry run" if result.dry_run else "synced"
    metadata = {
        "status": status,
        "planned": result.planned,
        "sent": result.sent,
        "ok": result.ok,
        "failed": result.failed,
        "skipped": result.skipped,
        "write_calls": result.write_calls,
        # HTTP requests that were not writes nor re-sends: consent checks, pages, job polls.
        "read_calls": max(0, stats.requests - stats.retries - result.write_calls),
        "retries": stats.retries,
        "api_requests": stats.requests,
        "per_segment": dg.MetadataValue.json(per_segment),
        "membership_moves": dg.MetadataValue.json(result.moves),
        "blast_radius": dg.MetadataValue.json(result.blast_radius),
    }
    if result.dry_run or blocked:
        metadata["planned_diff"] = dg.MetadataValue.json(result.plan)
    if blocked:
        description = blocked
    elif result.failed:
        description = f"{result.failed} rows failed; the next run retries them"
    else:
        description = None
    check = dg.AssetCheckResult(
        check_name=CHECK,
        passed=not blocked and result.failed == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"failed_rows": result.failed, "blocked": bool(blocked)},
        description=description,
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


sync_assets = [klaviyo_sync, mailchimp_sync]
