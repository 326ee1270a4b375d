"""The blast-radius check: a live sync may not move too many people between lists at once.

A broken model or a bad threshold shows up as a sudden mass change of list membership, and a
campaign sent to such a list cannot be taken back. So before a live sync, the share of contacts
whose membership would change without a reason of their own, and the share of each group, are
compared with a limit; above it the sync stops with `BlastRadiusExceeded`, naming the numbers,
until someone reviews the dry run and sets `allow_large_change`.

What counts as a change: adds, and removes of people who left a segment, but only of people
with no new activity of their own since the scores this destination last synced
(`activity.NewActivity`).
A person who ordered, received or opened an email, changed consent or is new since then may
rightly move (a campaign day moves thousands this way); a mass move of people whose data did not
change is the signal. Explained moves are still counted and named in the findings. Without a
record of the scores last synced (a ledger from before it was kept), no move is explained.
Not counted:
- property writes: scores and `scored_at` move every day for everyone; tier and segment moves
  that matter for targeting show up as list membership changes anyway;
- consent removals: taking someone who can no longer be marketed to off a list is always
  allowed (consent always wins), so it is never held back.
Exempt: the very first sync (nothing acknowledged yet), and a group's first sync (no members
acknowledged yet), since everything is new then. A group whose change is below `min_changes`
people never blocks: a handful of moves in a small segment is a large share but no blast.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.lib.sync.activity import NewActivity
from pipeline.lib.sync.plan import AcknowledgedState, SyncPlan

_NOTHING_NEW = NewActivity(None, None)


class BlastRadiusExceeded(RuntimeError):
    """A live sync would change more than the allowed share of contacts or of a group.

    `result` is set by the sync that raised it: what it had sent by then (consent removals).
    """

    result = None


@dataclass(frozen=True)
class BlastRadiusPolicy:
    """`max_share` of contacts, and of any group, that may change in one live sync."""

    max_share: float = 0.20
    min_changes: int = 50
    allow_large_change: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.max_share <= 1:
            raise ValueError("max_share must be in (0, 1]")
        if self.min_changes < 0:
            raise ValueError("min_changes must not be negative")


def counted_changes(plan: SyncPlan, state: AcknowledgedState) -> dict[str, set[str]]:
    """Per group already synced before, the customers whose membership would change (see the
    module docstring), whether or not new activity explains it. A re-sent pending add is not
    counted: the person may already be on the list."""
    changed: dict[str, set[str]] = {}
    for group in plan.groups:
        held = state.memberships.get(group, {})
        if not held:
            continue  # the group's first sync: everything in it is new
        consent = plan.consent_removals.get(group, set())
        adds = {m.customer_id for m in plan.adds.get(group, []) if m.customer_id not in held}
        removes = {m.customer_id for m in plan.removes.get(group, [])} - consent
        changed[group] = adds | removes
    return changed


def check_blast_radius(
    plan: SyncPlan,
    state: AcknowledgedState,
    policy: BlastRadiusPolicy,
    activity: NewActivity = _NOTHING_NEW,
) -> list[str]:
    """The limits this plan exceeds, in words; raises `BlastRadiusExceeded` unless overridden.

    Only moves `activity` does not explain count against the limits. Returns the (possibly
    empty) findings so an overridden sync or a dry run can report them.
    """
    if state.is_empty:
        return []
    findings = []
    changed = counted_changes(plan, state)
    moved = set().union(*changed.values())
    population = max(plan.contacts, len(state.contacts), 1)
    unexplained = _unexplained(moved, activity)
    if len(unexplained) > max(policy.min_changes, policy.max_share * population):
        findings.append(
            f"{len(unexplained):,} of {population:,} contacts "
            f"({len(unexplained) / population:.1%}) would change list membership "
            + _without_activity(len(moved) - len(unexplained), activity)
        )
    for group, customers in changed.items():
        held = state.memberships[group]
        joining = sum(1 for m in plan.adds.get(group, []) if m.customer_id not in held)
        base = max(len(held), len(held) + joining - len(plan.removes.get(group, [])))
        unexplained = _unexplained(customers, activity)
        if len(unexplained) > max(policy.min_changes, policy.max_share * base):
            findings.append(
                f"group '{group}' would change by {len(unexplained):,} of {base:,} members "
                f"({len(unexplained) / base:.1%}) "
                + _without_activity(len(customers) - len(unexplained), activity)
            )
    if findings and not policy.allow_large_change:
        raise BlastRadiusExceeded(
            f"Live sync blocked by the blast-radius check (limit {policy.max_share:.0%} per "
            "sync): " + "; ".join(findings) + ". Review the dry run, then set "
            "allow_large_change to proceed."
        )
    return findings


def move_counts(plan: SyncPlan, state: AcknowledgedState, activity: NewActivity) -> dict[str, int]:
    """Contacts whose list membership would change, split by whether new activity explains it."""
    moved = set().union(*counted_changes(plan, state).values())
    unexplained = _unexplained(moved, activity)
    return {
        "explained_by_new_activity": len(moved) - len(unexplained),
        "unexplained": len(unexplained),
    }


def _unexplained(customers: set[str], activity: NewActivity) -> set[str]:
    if not activity.known:
        return customers
    return {c for c in customers if not activity.explains(c)}


def _without_activity(explained: int, activity: NewActivity) -> str:
    """How the counted moves relate to new activity, for a finding."""
    if not activity.known:
        return (
            "(no record of the scores this destination last synced, so no move is explained "
            "by new activity)"
        )
    return (
        f"with no new activity of their own since the scores as of {activity.since} "
        f"({explained:,} more moves are explained by new activity)"
    )
