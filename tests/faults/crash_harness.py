"""Crash injection for the fault matrix (shared by `tests/faults` and `make chaos`).

`CrashingPlatform` is an email platform in memory (groups and properties per customer) whose
n-th write call crashes the process in one of three ways: before the call reaches it, after it
took effect (the answer is lost), or halfway through the batch. `CrashingConnection` wraps a
DuckDB connection and crashes at its n-th `execute`, i.e. inside a load's transaction. A crash
is a `BaseException`, as kill -9 is: nothing in the product may catch and carry on.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from pipeline.lib.sync import BlastRadiusPolicy, SyncLedger, sync
from pipeline.lib.sync.records import DesiredContact, Member, Outcome, PropertyWrite

ROOT = Path(__file__).resolve().parents[2]
MODES = ("before", "after", "partial")
# The matrix is about crashes: day 2 moves more people than a live sync may without review.
REVIEWED = BlastRadiusPolicy(allow_large_change=True)
SEGMENTS = ("vip", "lapsed", "new")


class Crash(BaseException):
    """The process died here."""


@dataclass
class CrashingPlatform:
    """A destination holding group members and properties; crashes at write `crash_at`."""

    name: str = "memory"
    property_batch_size: int = 40
    group_batch_size: int = 25
    groups: dict[str, set[str]] = field(default_factory=dict)
    properties: dict[str, dict] = field(default_factory=dict)
    calls: int = 0
    crash_at: int | None = None
    mode: str = "after"

    @property
    def write_calls(self) -> int:
        return self.calls

    def _apply(self, items: Sequence, apply) -> None:
        self.calls += 1
        crashing = self.crash_at is not None and self.calls == self.crash_at
        if crashing and self.mode == "before":
            raise Crash(f"before write {self.calls}")
        done = items[: len(items) // 2] if crashing and self.mode == "partial" else items
        for item in done:
            apply(item)
        if crashing:
            raise Crash(f"{self.mode} write {self.calls}")

    def set_properties(self, writes: Sequence[PropertyWrite]) -> list[Outcome]:
        self._apply(writes, lambda w: self.properties.__setitem__(w.customer_id, w.properties))
        return [Outcome(w.customer_id, "ok", f"P{w.customer_id}") for w in writes]

    def add_to_group(self, group: str, members: Sequence[Member]) -> list[Outcome]:
        held = self.groups.setdefault(group, set())
        self._apply(members, lambda m: held.add(m.customer_id))
        return [Outcome(m.customer_id, "ok", f"P{m.customer_id}") for m in members]

    def remove_from_group(self, group: str, members: Sequence[Member]) -> list[Outcome]:
        held = self.groups.setdefault(group, set())
        self._apply(members, lambda m: held.discard(m.customer_id))
        return [Outcome(m.customer_id, "ok", m.contact_id) for m in members]


def desired_days(customers: int, seed: int) -> tuple[list[DesiredContact], list[DesiredContact]]:
    """Two days of desired state: day 2 moves segments, takes consent from some people and
    drops some from the warehouse altogether."""
    rng = random.Random(seed)
    day1 = [
        DesiredContact(
            customer_id=f"c{n:04d}",
            email=f"person{n}@example.com",
            contact_id=None,
            can_receive_email_marketing=rng.random() > 0.15,
            properties={"score": round(rng.random(), 3)},
            segments=frozenset(s for s in SEGMENTS if rng.random() < 0.3),
        )
        for n in range(customers)
    ]
    day2 = []
    for contact in day1:
        draw = rng.random()
        if draw < 0.05:
            continue  # gone from the warehouse
        if draw < 0.15:
            contact = replace(contact, can_receive_email_marketing=False)
        elif draw < 0.30:
            contact = replace(
                contact, segments=frozenset(s for s in SEGMENTS if rng.random() < 0.3)
            )
        day2.append(replace(contact, properties={"score": round(rng.random(), 3)}))
    return day1, day2


def platform_state(platform: CrashingPlatform) -> dict:
    return {g: sorted(m) for g, m in sorted(platform.groups.items()) if m}


def ledger_state(ledger: SyncLedger) -> dict:
    rows = ledger.con.execute(
        "select group_name, customer_id, status from activation.sync_memberships "
        "where destination = ? order by all",
        [ledger.destination],
    ).fetchall()
    return {"memberships": rows, "contacts": sorted(ledger.load_state().contacts.items())}


def run_days(
    days: list[list[DesiredContact]],
    *,
    crash_day: int | None = None,
    crash_at: int = 0,
    mode: str = "after",
) -> tuple[CrashingPlatform, SyncLedger, dict]:
    """Sync each day in turn; on `crash_day` crash at write `crash_at`, check what the ledger
    knows at that moment, then re-run the day. Returns the platform, the ledger and what was
    seen at the crash."""
    platform = CrashingPlatform()
    ledger = SyncLedger(duckdb.connect(), platform.name)
    seen: dict = {}
    for number, desired in enumerate(days):
        if number == crash_day:
            platform.crash_at, platform.mode, platform.calls = crash_at, mode, 0
            try:
                sync(desired, platform, ledger, run_id=f"day{number}-crashed", policy=REVIEWED)
                seen["crashed"] = False
            except Crash:
                seen["crashed"] = True
                seen["unknown_members"] = unknown_memberships(platform, ledger)
            platform.crash_at = None
        sync(desired, platform, ledger, run_id=f"day{number}", policy=REVIEWED)
    return platform, ledger, seen


def unknown_memberships(platform: CrashingPlatform, ledger: SyncLedger) -> int:
    """Members the platform holds that the ledger does not know as (possibly) ours."""
    known = ledger.load_state().memberships
    return sum(
        1
        for group, members in platform.groups.items()
        for customer in members
        if customer not in known.get(group, {})
    )


def unmarketable_on_lists(platform: CrashingPlatform, desired: list[DesiredContact]) -> int:
    allowed = {c.customer_id for c in desired if c.can_receive_email_marketing}
    return sum(1 for members in platform.groups.values() for c in members if c not in allowed)


class CrashingConnection:
    """A DuckDB connection that crashes at its `crash_at`-th `execute`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, crash_at: int) -> None:
        self._con, self._crash_at, self.executes = con, crash_at, 0

    def execute(self, *args, **kwargs):
        self.executes += 1
        if self.executes == self._crash_at:
            raise Crash(f"execute {self.executes}")
        return self._con.execute(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def kill_when_it_prints(script: str, *args: str, line: str) -> None:
    """Run `script` (Python source) in a new process with `args`; kill -9 it as soon as it
    prints `line` (e.g. from inside an open transaction), and wait until it is gone."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert process.stdout.readline().strip() == line
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
