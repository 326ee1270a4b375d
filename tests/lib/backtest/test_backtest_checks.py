"""Backtest checks that need no dbt build: which days can be backtested, and why a task that
cannot be judged is not."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipeline.lib.backtest.evaluation import _why_not, _window
from pipeline.lib.backtest.run import BacktestError, check_as_of
from pipeline.lib.modeling.tasks import tasks
from tests.lib.modeling.synthetic import synthetic_frame

DATA_END = date(2024, 8, 29)


@pytest.fixture
def warehouse():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.orders as select timestamp '2024-01-05 10:00' as ordered_at")
    con.execute(f"create table marts.customers as select date '{DATA_END}' as as_of_date")
    yield con
    con.close()


def test_any_day_inside_the_data_can_be_backtested(warehouse):
    assert check_as_of(warehouse, date(2024, 7, 3)) == date(2024, 7, 3)  # a Wednesday
    for outside in (date(2024, 1, 5), date(2024, 8, 29), date(2025, 1, 1)):
        with pytest.raises(BacktestError, match="outside the data: its orders run from 2024-01-05"):
            check_as_of(warehouse, outside)


def test_a_task_that_cannot_be_judged_says_the_true_reason():
    purchase, _, cltv, category = tasks(30, 90, 365)
    no_categories = synthetic_frame(customers=50, weeks=3, categories=())
    assert "names no product categories" in _why_not(category, no_categories, date(2024, 7, 3),
                                                     DATA_END)  # fmt: skip
    with_categories = synthetic_frame(customers=50, weeks=3)
    reason = _why_not(cltv, with_categories, date(2024, 7, 3), DATA_END)
    assert reason == (
        "the data covers days before 2024-08-29 only; the 365-day window after 2024-07-03 "
        "needs orders through 2025-07-02"
    )
    assert "no customer of the purchase population" in _why_not(
        purchase, with_categories, date(2024, 7, 3), DATA_END
    )
    assert _window(category, date(2024, 7, 3), DATA_END) == (date(2024, 7, 3), date(2024, 8, 28))
