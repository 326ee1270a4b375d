"""Batches of as-of dates: how the point-in-time features of a long window are built.

One query over every as-of date of a shop's history holds customers × dates rows in flight: at
100k customers the full build's 6.9M rows spilled 26 GB to disk and took 200 s. Built as
consecutive ranges of dates, each bounded in rows, the table is the same (the model replaces
whole as-of dates) and memory stays bounded. The rows per date come from the warehouse's
`intermediate.int_feature_as_of_dates` (the dates the features keep, with the customers known
before each), which the core step builds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, timedelta

import duckdb

MAX_ROWS_ENV = "FORESIGHT_FEATURE_BATCH_ROWS"
# About 4 GB of DuckDB memory per million feature rows in flight (the default limit is 4 GB);
# each batch also pays a fixed cost (dbt's start, the lookups' shared scans, the insert), so
# batches are as large as fits without spilling much.
DEFAULT_MAX_ROWS = 1_500_000

Window = tuple[date | None, date]


def max_batch_rows() -> int:
    """Feature rows per batch (env `FORESIGHT_FEATURE_BATCH_ROWS`, a positive integer)."""
    raw = os.environ.get(MAX_ROWS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_ROWS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{MAX_ROWS_ENV} must be a positive whole number of rows, got {raw!r}")
    return int(raw)


def feature_rows_by_date(
    con: duckdb.DuckDBPyConnection, first: date | None, last: date
) -> list[tuple[date, int]]:
    """(as-of date, feature rows) for the dates the features keep in [first, last], in order;
    empty when the warehouse has no plan yet (its core step never ran with this table)."""
    found = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'intermediate' and table_name = 'int_feature_as_of_dates'"
    ).fetchone()[0]
    if not found:
        return []
    return con.execute(
        "select as_of_date, customers_known from intermediate.int_feature_as_of_dates"
        " where as_of_date >= coalesce(?, as_of_date) and as_of_date <= ?"
        " order by as_of_date",
        [first, last],
    ).fetchall()


def split_window(
    window: Window, rows_by_date: Sequence[tuple[date, int]], max_rows: int
) -> list[Window]:
    """The window [first, last] (first None: from the beginning) as consecutive windows that
    together cover it, each holding at most `max_rows` rows unless one date alone holds more.

    Batches are cut only between dates of `rows_by_date`, so the first keeps the window's start
    and the last its end: every date the window would build is in exactly one batch.
    """
    first, last = window
    cuts = []  # the first date of every batch after the first
    rows = 0
    for as_of_date, count in rows_by_date:
        if rows and rows + count > max_rows:
            cuts.append(as_of_date)
            rows = 0
        rows += count
    starts = [first, *cuts]
    ends = [*(cut - timedelta(days=1) for cut in cuts), last]
    return list(zip(starts, ends, strict=True))


def batch_windows(con: duckdb.DuckDBPyConnection, window: Window) -> list[Window]:
    """The window's batches as the warehouse's plan and the configured batch size give them."""
    return split_window(window, feature_rows_by_date(con, *window), max_batch_rows())
