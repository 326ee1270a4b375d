"""Sync safety on an in-memory destination: consent removals go out even when the blast radius
blocks, a bad row fails alone, and the ledger never forgets a membership the destination may
hold, whatever call a crash interrupts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from pipeline.lib.sync import BlastRadiusExceeded, SyncLedger, sync
from pipeline.lib.sync.records import DesiredContact, Member, Outcome, PropertyWrite
from tests.lib.sync.sync_fixtures import new_ledger


class Crash(BaseException):
    """A process killed mid-call (BaseException: nothing in the sync may swallow it)."""


@dataclass
class MemoryDestination:
    """Groups as sets of customer ids; `crash_after` kills the process after the n-th write
    took effect (before its answer reaches the caller), `reject` refuses properties batches
    holding a customer id whose properties the platform cannot take."""

    name: str = "memory"
    property_batch_size: int = 10
    group_batch_size: int = 10
    groups: dict[str, set[str]] = field(default_factory=dict)
    properties: dict[str, dict] = field(default_factory=dict)
    calls: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    crash_after: int | None = None
    skip_adds: set[str] = field(default_factory=set)

    @property
    def write_calls(self) -> int:
        return len(self.calls)

    def _done(self, action: str, group: str, items: Sequence) -> None:
        self.calls.append((action, group, tuple(i.customer_id for i in items)))
        if self.crash_after is not None and len(self.calls) >= self.crash_after:
            raise Crash(f"killed after write {len(self.calls)}")

    def set_properties(self, writes: Sequence[PropertyWrite]) -> list[Outcome]:
        for w in writes:
            self.properties[w.customer_id] = dict(w.properties)
        self._done("set_properties", "", writes)
        return [Outcome(w.customer_id, "ok", f"P-{w.customer_id}") for w in writes]

    def add_to_group(self, group: str, members: Sequence[Member]) -> list[Outcome]:
        sent = [m for m in members if m.customer_id not in self.skip_adds]
        self.groups.setdefault(group, set()).update(m.customer_id for m in sent)
        self._done("add_to_group", group, members)
        return [
            Outcome(m.customer_id, "skipped" if m.customer_id in self.skip_adds else "ok")
            for m in members
        ]

    def remove_from_group(self, group: str, members: Sequence[Member]) -> list[Outcome]:
        self.groups.setdefault(group, set()).difference_update(m.customer_id for m in members)
        self._done("remove_from_group", group, members)
        return [Outcome(m.customer_id, "ok") for m in members]


def person(n: int, *segments: str, consent: bool = True, **properties) -> DesiredContact:
    return DesiredContact(
        customer_id=f"c{n:03d}",
        email=f"person{n}@example.com",
        contact_id=None,
        can_receive_email_marketing=consent,
        properties={"score": n, **properties},
        segments=frozenset(segments),
    )


def ledger_memberships(ledger: SyncLedger) -> dict[str, set[str]]:
    state = ledger.load_state()
    return {g: set(m) for g, m in state.memberships.items() if m}


def test_consent_removals_go_out_even_when_the_blast_radius_blocks():
    destination, ledger = MemoryDestination(), new_ledger()
    people = [person(n, "vip" if n < 100 else "lapsed") for n in range(200)]
    sync(people, destination, ledger, run_id="r1")
    # A broken model moves everyone to vip, and on the same day three people unsubscribe.
    broken = [replace(p, segments=frozenset({"vip"})) for p in people]
    for n in (3, 150, 151):
        broken[n] = replace(broken[n], can_receive_email_marketing=False)
    destination.calls.clear()
    with pytest.raises(BlastRadiusExceeded) as blocked:
        sync(broken, destination, ledger, run_id="r2")
    assert "c003" not in destination.groups["vip"]
    assert not {"c150", "c151"} & destination.groups["lapsed"]
    assert {action for action, _, _ in destination.calls} == {"remove_from_group"}
    assert blocked.value.result.ok == 3 and blocked.value.result.blast_radius
    assert "c003" not in ledger_memberships(ledger)["vip"]


def test_a_bad_property_value_fails_its_own_row_only():
    destination, ledger = MemoryDestination(), new_ledger()
    people = [person(n, "vip") for n in range(5)]
    people[2] = replace(people[2], properties={"score": object()})
    result = sync(people, destination, ledger, run_id="r1")
    assert result.failed == 1
    assert set(destination.properties) == {"c000", "c001", "c003", "c004"}
    assert destination.groups["vip"] == {f"c{n:03d}" for n in range(5)}
    (error,) = ledger.con.execute(
        "select error from activation.sync_ledger where outcome = 'error'"
    ).fetchone()
    assert "c002" in error and "'score'" in error


def test_a_skipped_re_add_keeps_a_pending_membership_from_a_crashed_run():
    destination, ledger = MemoryDestination(crash_after=2), new_ledger()
    people = [person(n, "vip") for n in range(3)]
    with pytest.raises(Crash):  # the add reached the platform, its answer did not
        sync(people, destination, ledger, run_id="r1")
    assert destination.groups["vip"] == {"c000", "c001", "c002"}
    destination.crash_after, destination.skip_adds = None, {"c001"}
    sync(people, destination, ledger, run_id="r2")
    assert "c001" in ledger_memberships(ledger)["vip"]
    # When c001 leaves the segment, the membership the platform holds is removed.
    sync([people[0], people[2]], destination, ledger, run_id="r3")
    assert destination.groups["vip"] == {"c000", "c002"}


def test_a_removal_interrupted_after_it_took_effect_is_re_added_when_wanted_again():
    destination, ledger = MemoryDestination(), new_ledger()
    people = [person(n, "vip") for n in range(3)]
    sync(people, destination, ledger, run_id="r1")
    destination.crash_after = len(destination.calls) + 1
    with pytest.raises(Crash):
        sync([*people[:2], replace(people[2], segments=frozenset())], destination, ledger)
    assert destination.groups["vip"] == {"c000", "c001"}
    destination.crash_after = None
    sync(people, destination, ledger, run_id="r3")  # c002 is back in vip
    assert destination.groups["vip"] == {"c000", "c001", "c002"}
    assert ledger_memberships(ledger) == {"vip": {"c000", "c001", "c002"}}
