"""Customers with new activity of their own between two scorings: what explains a list move.

A person whose own data changed between the scores a destination last synced and the scores
synced now — a new order (or its cancellation or refund), an email received, opened or
clicked, an on-site event, a consent or suppression change, or being a new customer — may
rightly change segment, so the blast-radius check does not count their move. A move of someone
whose data did not change comes from the model or the thresholds: that is what it counts.

"Between" is in data time, not wall-clock time: the window is [earlier, later) of the two
scores' `as_of_date`s (a score as of D uses records before D), so a backfill that re-syncs an
old day is judged by the data between the two days it compares. A record counts from when it
became visible to the features: the later of when it happened and when it was attributed to
the customer (`attributed_at`, the identity link). Grain of the result: one customer id per
person with at least one such record in the window.

A mart that is missing (a warehouse built before it existed) explains nothing: the check only
gets stricter, never looser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import duckdb

from pipeline.lib.sync.desired import SCORES_TABLE, scores_available

# (mart, timestamp expressions): a record is new activity when one of them falls in the window.
_ACTIVITY_SOURCES = (
    (
        "marts.orders",
        (
            "greatest(ordered_at, coalesce(attributed_at, ordered_at))",
            "cancelled_at",
            "refund_known_at",
        ),
    ),
    ("marts.email_events", ("greatest(occurred_at, coalesce(attributed_at, occurred_at))",)),
    ("marts.site_events", ("greatest(occurred_at, coalesce(attributed_at, occurred_at))",)),
    ("marts.customers", ("first_seen_at", "email_consent_at", "suppressed_at")),
)


@dataclass(frozen=True)
class NewActivity:
    """Who has new activity of their own between the scores a destination last synced
    (`since`, None when the ledger holds no record of it) and the scores synced now (`until`,
    None before any scoring). Only when both are known can a move be explained."""

    since: date | None
    until: date | None
    customers: frozenset[str] = frozenset()

    @property
    def known(self) -> bool:
        return self.since is not None and self.until is not None

    def explains(self, customer_id: str) -> bool:
        return customer_id in self.customers


def scores_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The `as_of_date` of the latest scores (the ones a sync sends), or None before scoring."""
    if not scores_available(con):
        return None
    (latest,) = con.execute(f"select max(as_of_date) from {SCORES_TABLE}").fetchone()
    return latest


def read_new_activity(con: duckdb.DuckDBPyConnection, since: date | None) -> NewActivity:
    """Customers with new activity between the scores last synced as of `since` and the latest
    scores (see the module docstring)."""
    until = scores_as_of(con)
    if since is None or until is None:
        return NewActivity(since, until)
    start, end = sorted((since, until))
    return NewActivity(since, until, customers_active_between(con, start, end))


def customers_active_between(
    con: duckdb.DuckDBPyConnection, start: date, end: date
) -> frozenset[str]:
    """Customers with a record of their own visible from `start` (inclusive) to `end`
    (exclusive)."""
    selects = []
    for table, moments in _ACTIVITY_SOURCES:
        if not _table_exists(con, table):
            continue
        in_window = " or ".join(f"({m} >= $start and {m} < $end)" for m in moments)
        selects.append(
            f"select customer_id from {table} where customer_id is not null and ({in_window})"
        )
    if not selects or start >= end:
        return frozenset()
    rows = con.execute(
        " union ".join(selects), {"start": _midnight(start), "end": _midnight(end)}
    ).fetchall()
    return frozenset(customer_id for (customer_id,) in rows)


def _midnight(day: date) -> datetime:
    # The marts keep naive UTC timestamps; a date's window starts at its UTC midnight.
    return datetime.combine(day, time())


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    (found,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found)
