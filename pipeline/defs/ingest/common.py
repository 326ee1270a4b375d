"""What every ingest asset shares: run config, metadata and the quarantine check."""

from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg

from pipeline.defs.partitions import daily_partitions
from pipeline.defs.resources import WarehouseResource
from pipeline.lib.clients.http import RequestStats
from pipeline.lib.ingest.raw_load import LoadResult, load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.raw_schema import ensure_tables
from pipeline.lib.ingest.spool import spooled

NOT_CONFIGURED = "not configured"

QUARANTINE_CHECK = "quarantined_share_within_limit"
OWNERS = ["team:data"]


class IngestConfig(dg.Config):
    """Run config of ingest assets."""

    max_quarantined_share: float = 0.01
    """The asset check fails when more than this share of fetched records is quarantined."""
    bulk_after_days: int = 7
    """Windows longer than this many days use Shopify bulk operations instead of paging."""
    mailchimp_activity_lookback_days: int = 90
    """Mailchimp activity of a day is read from the campaigns sent this many days before it:
    opens and clicks of older campaigns are not looked for again."""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fetch_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """The partition range's time window, open-ended into the past for the first partition.

    Records last changed before the history's first day (a product created years ago, a
    customer untouched since) belong to no day of the history; the first partition takes them
    so that a full backfill really is full.
    """
    window = context.partition_time_window
    first = context.assets_def.partitions_def.get_first_partition_window()
    return (EPOCH if window.start <= first.start else window.start), window.end


def ingest_asset_args(
    key: list[str], description: str, kind: str, partitioned: bool = True
) -> dict:
    """What every ingest asset declares: group, kinds, owners, the one-writer pool, daily
    partitions backfilled in a single run (when incremental), and the quarantine check."""
    return {
        "key": key,
        "description": description,
        "group_name": "ingest",
        "kinds": {kind, "duckdb"},
        "owners": OWNERS,
        "partitions_def": daily_partitions if partitioned else None,
        "backfill_policy": dg.BackfillPolicy.single_run() if partitioned else None,
        "pool": "duckdb",
        "check_specs": [quarantine_check_spec(key)],
    }


def quarantine_check_spec(key: list[str]) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        QUARANTINE_CHECK,
        asset=dg.AssetKey(key),
        description="Fails when the share of quarantined records passes the configured limit.",
    )


def load_fetched(
    context: dg.AssetExecutionContext,
    key: list[str],
    records: Iterable[dict],
    stats: RequestStats,
    warehouse: WarehouseResource,
    config: IngestConfig,
) -> dg.MaterializeResult:
    """Load what a client fetches into the asset's raw table and report it. The records are
    paged through the API first (spooled to disk): the warehouse is opened, and locked, only
    to load them, so a slow API never holds the one writer's lock."""
    with spooled(records) as fetched, warehouse.connect() as con:
        loaded = load_records(con, RAW_TABLES[tuple(key)], fetched, context.run.run_id)
    return ingest_result(key, loaded, stats, config.max_quarantined_share)


def ingest_result(
    key: list[str],
    loaded: LoadResult,
    stats: RequestStats | None,
    max_quarantined_share: float,
) -> dg.MaterializeResult:
    """Counts an analyst needs (never payloads, keys or emails), plus the quarantine check."""
    share = loaded.quarantined / loaded.fetched if loaded.fetched else 0.0
    stats = stats or RequestStats()
    return dg.MaterializeResult(
        metadata={
            "status": "ingested",
            "fetched": loaded.fetched,
            "loaded": loaded.loaded,
            "quarantined": loaded.quarantined,
            "inserted": loaded.inserted,
            "updated": loaded.updated,
            "unchanged": loaded.unchanged,
            # records of people erased on request (activation.erasures), deliberately not loaded
            "erased_skipped": loaded.erased_skipped,
            "requests": stats.requests,
            "retried": stats.retries,
            "pages": stats.pages,
            "throttled_seconds": round(stats.throttled_seconds, 1),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=QUARANTINE_CHECK,
                asset_key=dg.AssetKey(key),
                passed=share <= max_quarantined_share,
                metadata={"quarantined_share": share, "limit": max_quarantined_share},
            )
        ],
    )


def not_configured_result(
    context: dg.AssetExecutionContext, platform: str, key: list[str], con
) -> dg.MaterializeResult:
    """A platform the shop does not use: its raw table exists, empty, so the dbt models build
    from what exists, and the materialisation says plainly that nothing was fetched and why."""
    context.log.info(f"{platform} is not configured: {'/'.join(key)} fetches nothing")
    ensure_tables(con, RAW_TABLES[tuple(key)])
    return dg.MaterializeResult(
        metadata={"status": NOT_CONFIGURED, "platform": platform},
        check_results=[
            dg.AssetCheckResult(
                check_name=QUARANTINE_CHECK,
                asset_key=dg.AssetKey(key),
                passed=True,
                description=f"{platform} is not configured",
            )
        ],
    )
