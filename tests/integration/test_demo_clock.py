"""The demo's clock: a later demo keeps the last clock, the next day moves it one day on."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.cli.demo_clock import (
    DemoClockError,
    clock_file,
    record_clock,
    recorded_clock,
    sandbox_clock_args,
)


@pytest.fixture(autouse=True)
def own_warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))


def test_the_first_demo_serves_the_default_clock_and_the_next_day_needs_it():
    assert sandbox_clock_args(["--customers", "300"], next_day=False) == ["--customers", "300"]
    with pytest.raises(DemoClockError, match="run `make demo` first"):
        sandbox_clock_args([], next_day=True)


def test_a_recorded_clock_is_kept_and_the_next_day_is_the_day_after_it():
    record_clock(date(2025, 12, 31))
    assert clock_file().parent.name and recorded_clock() == date(2025, 12, 31)
    assert sandbox_clock_args([], next_day=False) == ["--now", "2025-12-31"]
    assert sandbox_clock_args(["--seed", "2"], next_day=True) == [
        "--seed", "2", "--now", "2026-01-01",
    ]  # fmt: skip


def test_an_explicit_clock_wins_for_a_demo_and_is_refused_for_the_next_day():
    record_clock(date(2025, 12, 31))
    assert sandbox_clock_args(["--now", "2025-06-01"], next_day=False) == ["--now", "2025-06-01"]
    with pytest.raises(DemoClockError, match="drop --now"):
        sandbox_clock_args(["--now=2025-06-01"], next_day=True)
