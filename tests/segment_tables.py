"""Small hand-made `marts.customer_segments` / `marts.segment_history` tables for tests."""

from __future__ import annotations

from datetime import date

import duckdb

TODAY = date(2024, 3, 2)
YESTERDAY = date(2024, 3, 1)


def write_segments(con: duckdb.DuckDBPyConnection, vip_before: int, vip_left: int) -> None:
    """`vip`: `vip_before` members yesterday, `vip_left` of them exited today, 5 new today (one
    in the holdout); `active`: 10 members yesterday, 8 exited today (a tiny segment)."""
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.segment_history (customer_id varchar, segment varchar,"
        " segment_family varchar, entered_at date, exited_at date)"
    )
    rows = [(f"v{i}", "vip", "value", YESTERDAY, TODAY if i < vip_left else None)
            for i in range(vip_before)]  # fmt: skip
    rows += [(f"n{i}", "vip", "value", TODAY, None) for i in range(5)]
    rows += [(f"a{i}", "active", "lifecycle", YESTERDAY, TODAY if i < 8 else None)
             for i in range(10)]  # fmt: skip
    con.executemany("insert into marts.segment_history values (?, ?, ?, ?, ?)", rows)
    con.execute(
        "create or replace table marts.customer_segments as select customer_id, segment,"
        " segment_family, entered_at, customer_id = 'n0' as is_holdout,"
        " customer_id <> 'v99' as is_marketable, ? as as_of_date"
        " from marts.segment_history where exited_at is null",
        [TODAY],
    )
