"""Daily partitions shared by every incremental ingest asset.

A partition is one UTC day of changes (entities by `updated_at`, events by occurrence). The
history starts at `FORESIGHT_HISTORY_START` (default 2024-01-01, the sandbox shop's first day).
"""

import os

import dagster as dg

HISTORY_START = os.environ.get("FORESIGHT_HISTORY_START", "2024-01-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=HISTORY_START, timezone="UTC")


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover the partitions [first, last] (single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
