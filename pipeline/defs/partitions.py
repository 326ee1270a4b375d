"""Daily partitions shared by every incremental ingest asset.

A partition is one UTC day of changes (entities by `updated_at`, events by occurrence). The
history starts at `FORESIGHT_HISTORY_START` (default 2024-01-01, the sandbox shop's first day).
"""

import os

import dagster as dg

HISTORY_START = os.environ.get("FORESIGHT_HISTORY_START", "2024-01-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=HISTORY_START, timezone="UTC")
