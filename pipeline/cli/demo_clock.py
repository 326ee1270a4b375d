"""The demo's clock: where the last demo left the sandbox store, and the next day after it.

`make demo` records the sandbox clock it ran at (beside the warehouse, one ISO date); a later
`make demo` serves the store at the same clock, and `make next-day` moves it one day forward so
the daily job ingests, scores and syncs exactly one new day, as it would in a shop.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from pipeline.lib.settings import warehouse_path


class DemoClockError(ValueError):
    """The next day was asked for without a previous demo, or with an explicit clock."""


def clock_file() -> Path:
    """One file per warehouse: a second warehouse has its own demo history."""
    return warehouse_path().with_name(warehouse_path().stem + ".demo-clock")


def recorded_clock() -> date | None:
    path = clock_file()
    return date.fromisoformat(path.read_text().strip()) if path.exists() else None


def record_clock(now: date) -> None:
    clock_file().write_text(now.isoformat() + "\n")


def sandbox_clock_args(sandbox_args: list[str], next_day: bool) -> list[str]:
    """The sandbox arguments with the clock to serve: the recorded one, or the day after it.

    An explicit `--now` wins for an ordinary demo; with `next_day` it is refused, since the next
    day is defined by the previous demo's clock.
    """
    explicit = any(arg == "--now" or arg.startswith("--now=") for arg in sandbox_args)
    recorded = recorded_clock()
    if next_day:
        if explicit:
            raise DemoClockError("the next day follows the last demo's clock: drop --now")
        if recorded is None:
            raise DemoClockError("no previous demo to follow: run `make demo` first")
        return [*sandbox_args, "--now", (recorded + timedelta(days=1)).isoformat()]
    if explicit or recorded is None:
        return sandbox_args
    return [*sandbox_args, "--now", recorded.isoformat()]
