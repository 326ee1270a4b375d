"""Per-segment numbers of a sync for people to read: segment sizes, holdouts, what was synced.

Grain: one entry per segment of `marts.customer_segments` or of the destination's ledger. Counts
only, never emails.
"""

from __future__ import annotations

from typing import Any

import duckdb

from pipeline.lib.sync.ledger import SCHEMA
from pipeline.lib.sync.run import SyncResult


def segment_report(
    con: duckdb.DuckDBPyConnection, destination: str, result: SyncResult | None = None
) -> dict[str, dict[str, Any]]:
    """Per segment: `members` and `holdout` (from the mart), `marketable` members outside the
    holdout, `on_list` (memberships the destination confirmed, from the ledger), and — with a
    sync result — the run's planned `adds`, `removes` and `held_back_for_consent`."""
    report: dict[str, dict[str, Any]] = {}
    rows = con.execute(
        """select segment, count(*), count(*) filter (where is_holdout),
            count(*) filter (where not is_holdout and is_marketable)
        from marts.customer_segments group by segment order by segment"""
    ).fetchall()
    for segment, members, holdout, marketable in rows:
        report[segment] = {"members": members, "holdout": holdout, "marketable": marketable}
    if _has_ledger(con):
        rows = con.execute(
            f"""select group_name, count(*) from {SCHEMA}.sync_memberships
            where destination = ? and status = 'added' group by group_name""",
            [destination],
        ).fetchall()
        for segment, on_list in rows:
            report.setdefault(segment, {"members": 0, "holdout": 0, "marketable": 0})
            report[segment]["on_list"] = on_list
    if result is not None:
        for segment, planned in result.plan.get("groups", {}).items():
            entry = report.setdefault(segment, {"members": 0, "holdout": 0, "marketable": 0})
            entry |= {
                "adds": planned["adds"],
                "removes": planned["removes"],
                "held_back_for_consent": planned["held_back_for_consent"],
            }
    # Last, so that a segment only the plan names (emptied, its members being removed) has it too.
    for entry in report.values():
        entry.setdefault("on_list", 0)
    return dict(sorted(report.items()))


def _has_ledger(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = ? and table_name = 'sync_memberships'",
        [SCHEMA],
    ).fetchone()
    return bool(found and found[0])
