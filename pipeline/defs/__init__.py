"""Dagster wiring only: thin declarations over `pipeline.lib`.

The project's `.env` is read here, before any module below reads a setting (the history start,
the platforms' credentials), so every way of loading the definitions (the UI, the command line
tools, the schedules) sees the same settings.

A run over a range of daily partitions records, by default, one planned materialisation per
partition per asset, each a separate instance write: thousands before a first load does any
work. With DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS Dagster records one per asset with
the range instead (what it does on its own storages that support it). The price: partitions of
a range run that fails show as missing, not failed; the run itself is failed and alerts.
With DAGSTER_EVENT_BATCH_SIZE Dagster hands the materialisations of a range run's output (one
per day) to the instance's storage together, which `storage.py` writes in one transaction.
`make` sets both for the UI and the daemon, which create runs without loading these definitions.
"""

import os

from pipeline.lib.platforms import load_env_file


def record_ranges_in_few_writes() -> None:
    """Ask Dagster for one planned materialisation per asset of a range run, and for the
    materialisations of a range output in batches (see above)."""
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")


load_env_file()
record_ranges_in_few_writes()
