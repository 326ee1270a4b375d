"""Batches of as-of dates: consecutive windows that cover the whole window, bounded in rows."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import duckdb
import pytest

from pipeline.lib.as_of_batches import (
    DEFAULT_MAX_ROWS,
    MAX_ROWS_ENV,
    batch_windows,
    feature_rows_by_date,
    max_batch_rows,
    split_window,
)

MONDAYS = [date(2025, 1, 6) + timedelta(weeks=week) for week in range(6)]


def test_a_window_within_the_budget_is_one_batch():
    rows = [(day, 100) for day in MONDAYS]
    assert split_window((None, date(2025, 2, 12)), rows, 600) == [(None, date(2025, 2, 12))]


def test_batches_cover_the_window_between_kept_dates_and_stay_within_the_budget():
    rows = [(day, 100 * (n + 1)) for n, day in enumerate(MONDAYS)]  # 100, 200, ... 600
    window = (date(2025, 1, 1), date(2025, 2, 12))
    batches = split_window(window, rows, 600)
    assert batches == [
        (date(2025, 1, 1), date(2025, 1, 26)),  # 6, 13 and 20 Jan: 100 + 200 + 300
        (date(2025, 1, 27), date(2025, 2, 2)),  # 400
        (date(2025, 2, 3), date(2025, 2, 9)),  # 500
        (date(2025, 2, 10), date(2025, 2, 12)),  # 600
    ]
    # every kept date in exactly one batch, and the batches touch end to start
    for day, _ in rows:
        assert sum(start <= day <= end for start, end in batches) == 1
    for (_, end), (start, _) in pairwise(batches):
        assert start == end + timedelta(days=1)


def test_a_date_larger_than_the_budget_is_a_batch_of_its_own():
    rows = [(MONDAYS[0], 50), (MONDAYS[1], 900), (MONDAYS[2], 50)]
    batches = split_window((None, MONDAYS[2]), rows, 100)
    assert [end for _, end in batches] == [
        MONDAYS[1] - timedelta(days=1),
        MONDAYS[2] - timedelta(days=1),
        MONDAYS[2],
    ]


def test_no_plan_means_one_batch():
    assert split_window((None, MONDAYS[0]), [], 10) == [(None, MONDAYS[0])]


def test_rows_by_date_read_the_plan_within_the_window():
    con = duckdb.connect()
    assert feature_rows_by_date(con, None, MONDAYS[-1]) == []  # no plan table yet
    con.execute("create schema intermediate")
    con.execute(
        "create table intermediate.int_feature_as_of_dates as"
        " select unnest(?) as as_of_date, unnest(?) as customers_known",
        [MONDAYS, [10, 20, 30, 40, 50, 60]],
    )
    assert feature_rows_by_date(con, MONDAYS[1], MONDAYS[3]) == [
        (MONDAYS[1], 20),
        (MONDAYS[2], 30),
        (MONDAYS[3], 40),
    ]
    assert len(feature_rows_by_date(con, None, MONDAYS[3])) == 4


def test_batch_size_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(MAX_ROWS_ENV, raising=False)
    assert max_batch_rows() == DEFAULT_MAX_ROWS
    monkeypatch.setenv(MAX_ROWS_ENV, "2500")
    assert max_batch_rows() == 2500
    for bad in ("0", "-3", "1e6", "lots"):
        monkeypatch.setenv(MAX_ROWS_ENV, bad)
        with pytest.raises(ValueError, match=MAX_ROWS_ENV):
            max_batch_rows()


def test_batch_windows_split_the_warehouses_plan_by_the_configured_size(monkeypatch):
    con = duckdb.connect()
    con.execute("create schema intermediate")
    con.execute(
        "create table intermediate.int_feature_as_of_dates as"
        " select unnest(?) as as_of_date, unnest(?) as customers_known",
        [MONDAYS, [10, 20, 30, 40, 50, 60]],
    )
    monkeypatch.setenv(MAX_ROWS_ENV, "60")
    assert batch_windows(con, (None, MONDAYS[-1])) == [
        (None, MONDAYS[3] - timedelta(days=1)),  # 10 + 20 + 30
        (MONDAYS[3], MONDAYS[4] - timedelta(days=1)),  # 40
        (MONDAYS[4], MONDAYS[5] - timedelta(days=1)),  # 50
        (MONDAYS[5], MONDAYS[5]),  # 60
    ]
