"""Crash points in the write of `ml.customer_scores` (grain: customer × as_of_date): a crash at
every statement of the write (in process), and a process killed with SIGKILL after it deleted
and re-inserted the day's rows but before it committed. The warehouse then holds the day's
previous scores whole, and a re-run converges to what an uninterrupted run writes: the same
rows, one per (customer, as_of_date)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.modeling.scoring import SCORES, write_scores
from tests.faults.crash_harness import Crash, CrashingConnection, kill_when_it_prints

DAY1, DAY2 = date(2024, 6, 1), date(2024, 6, 2)
TIERS = np.array(["low", "medium", "high"])


def scores(as_of: date, version: str, customers: int = 300, seed: int = 3) -> pd.DataFrame:
    """A day of scores as scoring writes them (synthetic, deterministic per day and version)."""
    rng = np.random.default_rng([seed, as_of.toordinal(), len(version)])
    cltv = rng.gamma(2.0, 50.0, customers).round(2)
    return pd.DataFrame(
        {
            "customer_id": [f"c{n:04d}" for n in range(customers)],
            "as_of_date": as_of,
            "churn_probability": rng.random(customers).round(4),
            "purchase_probability": rng.random(customers).round(4),
            "cltv_predicted": cltv,
            "cltv_p10": (cltv * 0.5).round(2),
            "cltv_p90": (cltv * 1.8).round(2),
            "churn_tier": TIERS[rng.integers(0, 3, customers)],
            "purchase_tier": TIERS[rng.integers(0, 3, customers)],
            "cltv_tier": TIERS[rng.integers(0, 3, customers)],
            "next_best_category": None,
            "expected_next_order_date": None,
            "churn_reasons": [["recency"]] * customers,
            "purchase_reasons": [["frequency", "recency"]] * customers,
            "cltv_reasons": [[]] * customers,
            "model_version": version,
            "score_source": "lightgbm",
            "scored_at": datetime(2024, as_of.month, as_of.day, 6),
        }
    )


def stored(con) -> list[tuple]:
    return con.execute(f"select * from {SCORES} order by as_of_date, customer_id").fetchall()


def duplicates(con) -> int:
    (found,) = con.execute(
        f"select count(*) - count(distinct (customer_id, as_of_date)) from {SCORES}"
    ).fetchone()
    return found


def history(con) -> None:
    """Two days scored, then the second day re-scored by a newer model (the write to crash)."""
    write_scores(con, scores(DAY1, "v1"), DAY1)
    write_scores(con, scores(DAY2, "v1"), DAY2)


with duckdb.connect() as _con:
    history(_con)
    BEFORE = stored(_con)
    write_scores(_con, scores(DAY2, "v2"), DAY2)
    REFERENCE = stored(_con)
# create schema, create table, previous rows, delete, insert, drop: every statement and one more
STATEMENTS = range(1, 7)


@pytest.mark.parametrize("statement", STATEMENTS)
def test_a_crash_at_any_statement_of_the_score_write_then_a_rerun_converges(statement):
    with duckdb.connect() as con:
        history(con)
        with pytest.raises(Crash):
            write_scores(CrashingConnection(con, statement), scores(DAY2, "v2"), DAY2)
        assert stored(con) == BEFORE
        write_scores(con, scores(DAY2, "v2"), DAY2)
        assert stored(con) == REFERENCE and duplicates(con) == 0


WRITER = """
import sys, time
from tests.faults.test_scoring_crash import DAY2, history, scores
from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.modeling.scoring import write_scores


class KilledBeforeCommit:
    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args):
        done = self._con.execute(sql, *args)
        if sql.startswith("insert into ml.customer_scores"):
            print("rows replaced, not committed", flush=True)
            time.sleep(300)
        return done

    def __getattr__(self, name):
        return getattr(self._con, name)


with connect(sys.argv[1]) as con:
    history(con)
    write_scores(KilledBeforeCommit(con), scores(DAY2, "v2"), DAY2)
"""


def test_a_score_write_killed_before_commit_keeps_the_old_day_and_the_rerun_converges(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    kill_when_it_prints(WRITER, str(path), line="rows replaced, not committed")
    with connect(path) as con:
        assert stored(con) == BEFORE
        write_scores(con, scores(DAY2, "v2"), DAY2)
        assert stored(con) == REFERENCE and duplicates(con) == 0
