"""One sync run: plan against the ledger, check the blast radius, send the changes batch by batch.

Order of work: consent removals first, even when the blast-radius check then blocks the rest
(a person who lost consent leaves our lists before anything else happens), then the other
removals, then properties (which also create missing profiles and learn their ids), then
adds. Every add and removal is journaled in the ledger before it is sent and every batch is
recorded as soon as the destination answers, so after a crash at any point the ledger still
knows every membership the destination may hold, and a re-run picks up exactly what is left.
A dry run stops after planning: it returns the planned diff and touches neither the
destination nor the ledger. A live sync that got past the blast-radius check records the
`as_of_date` of the scores it sent, so the next one measures new activity from there.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.lib.clients.http import ApiError, RejectedCredentialsError
from pipeline.lib.sync.activity import NewActivity
from pipeline.lib.sync.blast_radius import (
    BlastRadiusExceeded,
    BlastRadiusPolicy,
    check_blast_radius,
    move_counts,
)
from pipeline.lib.sync.destinations import Destination
from pipeline.lib.sync.ledger import SyncLedger
from pipeline.lib.sync.plan import SyncPlan, build_plan, summarize
from pipeline.lib.sync.records import DesiredContact, Member, Outcome

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    """Counts of one run (rows are contact × action): `planned` rows, `sent` to the destination,
    and their outcomes; `write_calls` made; the plan's summary, its membership moves (explained
    by new activity or not) and blast-radius findings."""

    run_id: str
    destination: str
    dry_run: bool
    planned: int = 0
    sent: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    write_calls: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    moves: dict[str, int] = field(default_factory=dict)
    blast_radius: list[str] = field(default_factory=list)


def sync(
    desired: Iterable[DesiredContact],
    destination: Destination,
    ledger: SyncLedger,
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    policy: BlastRadiusPolicy | None = None,
    activity: NewActivity | None = None,
    sample_size: int = 20,
) -> SyncResult:
    """Bring `destination` to the desired state, sending only what the ledger lacks.

    Raises `BlastRadiusExceeded` when a live sync would change too much: by then only the
    consent removals were sent, and the exception's `result` counts them. `activity` (who has
    new activity since the scores last synced, and the scores' dates) explains moves to the
    check; without it none is explained.
    `sample_size` rows of the plan go into `SyncResult.plan` (customer ids, never emails).
    """
    policy = policy or BlastRadiusPolicy()
    activity = activity or NewActivity(None, None)
    state = ledger.load_state()
    plan = build_plan(desired, state)
    result = SyncResult(run_id or uuid.uuid4().hex, destination.name, dry_run)
    result.planned, result.plan = plan.planned, summarize(plan, sample_size)
    result.moves = move_counts(plan, state, activity)
    if dry_run:
        result.blast_radius = check_blast_radius(
            plan, state, replace(policy, allow_large_change=True), activity
        )
        return result
    calls_before = destination.write_calls
    consent, other_removes = _split_consent_removals(plan)
    # Consent removals go out before the blast-radius check: nothing may hold them back.
    _send_removals(consent, destination, ledger, result)
    try:
        result.blast_radius = check_blast_radius(plan, state, policy, activity)
    except BlastRadiusExceeded as blocked:
        result.blast_radius = check_blast_radius(
            plan, state, replace(policy, allow_large_change=True), activity
        )
        result.write_calls = destination.write_calls - calls_before
        blocked.result = result
        raise
    if plan.rejected:
        ledger.record(result.run_id, "set_properties", plan.rejected)
        _record(result, plan.rejected)
    _send_removals(other_removes, destination, ledger, result)

    learned: dict[str, str] = {}
    for batch in _batches(plan.property_writes, destination.property_batch_size):
        outcomes = _send(batch, destination.set_properties)
        hashes = {w.customer_id: w.properties_hash for w in batch}
        sent = {w.customer_id: w.properties for w in batch}
        ledger.record(result.run_id, "set_properties", outcomes, hashes=hashes, synced=sent)
        _record(result, outcomes, sent=len(batch))
        learned |= {o.customer_id: o.contact_id for o in outcomes if o.contact_id}

    for group, members in plan.adds.items():
        members = [
            replace(m, contact_id=m.contact_id or learned.get(m.customer_id)) for m in members
        ]
        for batch in _batches(members, destination.group_batch_size):
            ledger.mark_pending(group, batch, result.run_id)
            outcomes = _send(batch, lambda b, g=group: destination.add_to_group(g, b))
            ledger.record(result.run_id, "add_to_group", outcomes, group=group)
            _record(result, outcomes, sent=len(batch))

    result.write_calls = destination.write_calls - calls_before
    if activity.until is not None:
        ledger.record_synced_scores(activity.until, result.run_id)
    log.info(
        "%s sync %s: %d planned, %d sent, %d ok, %d failed, %d skipped, %d write calls",
        destination.name,
        result.run_id,
        result.planned,
        result.sent,
        result.ok,
        result.failed,
        result.skipped,
        result.write_calls,
    )
    return result


def _split_consent_removals(
    plan: SyncPlan,
) -> tuple[dict[str, list[Member]], dict[str, list[Member]]]:
    """The plan's removals as (consent removals, every other removal), per group."""
    consent: dict[str, list[Member]] = {}
    others: dict[str, list[Member]] = {}
    for group, members in plan.removes.items():
        lost = plan.consent_removals.get(group, set())
        consent[group] = [m for m in members if m.customer_id in lost]
        others[group] = [m for m in members if m.customer_id not in lost]
    return consent, others


def _send_removals(
    removes: dict[str, list[Member]],
    destination: Destination,
    ledger: SyncLedger,
    result: SyncResult,
) -> None:
    """Remove `removes` batch by batch, journaled in the ledger before each call."""
    for group, members in removes.items():
        for batch in _batches(members, destination.group_batch_size):
            ledger.mark_removing(group, batch, result.run_id)
            outcomes = _send(batch, lambda b, g=group: destination.remove_from_group(g, b))
            ledger.record(result.run_id, "remove_from_group", outcomes, group=group)
            _record(result, outcomes, sent=len(batch))


def _send(batch: Sequence, call: Callable[[Sequence], list[Outcome]]) -> list[Outcome]:
    """The destination's outcomes for `batch`; a failed call is an error for every row of it."""
    try:
        outcomes = call(batch)
    except RejectedCredentialsError:
        raise  # every later batch would fail the same way
    except ApiError as error:
        return [Outcome(item.customer_id, "error", item.contact_id, str(error)) for item in batch]
    if sorted(o.customer_id for o in outcomes) != sorted(item.customer_id for item in batch):
        raise RuntimeError("the destination did not answer exactly one outcome per contact")
    return outcomes


def _batches(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record(result: SyncResult, outcomes: Sequence[Outcome], *, sent: int = 0) -> None:
    result.sent += sent
    for outcome in outcomes:
        if outcome.status == "ok":
            result.ok += 1
        elif outcome.status == "error":
            result.failed += 1
        else:
            result.skipped += 1
