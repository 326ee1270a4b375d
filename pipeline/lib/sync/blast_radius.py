"""The blast-radius check: a live sync may not move too many people between lists at once.

A broken model or a bad threshold shows up as a sudden mass change of list membership, and a
campaign sent to such a list cannot be taken back. So before a live sync, the share of contacts
whose membership would change, and the share of each group, are compared with a limit; above it
the sync stops with `BlastRadiusExceeded`, naming the numbers, until someone reviews the dry run
and sets `allow_large_change`.

What counts as a change: adds, and removes of people who left a segment. Not counted:
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

from pipeline.lib.sync.plan import AcknowledgedState, SyncPlan


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
    """Per group already synced before, the customers whose membership counts as changed
    (see the module docstring). A re-sent pending add is not counted: the person may already be
    on the list."""
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
    plan: SyncPlan, state: AcknowledgedState, policy: BlastRadiusPolicy
) -> list[str]:
    """The limits this plan exceeds, in words; raises `BlastRadiusExceeded` unless overridden.

    Returns the (possibly empty) findings so an overridden sync or a dry run can report them.
    """
    if state.is_empty:
        return []
    findings = []
    changed = counted_changes(plan, state)
    moved = set().union(*changed.values())
    population = max(plan.contacts, len(state.contacts), 1)
    if len(moved) > max(policy.min_changes, policy.max_share * population):
        findings.append(
            f"{len(moved):,} of {population:,} contacts ({len(moved) / population:.1%}) would "
            "change list membership"
        )
    for group, customers in changed.items():
        held = state.memberships[group]
        joining = sum(1 for m in plan.adds.get(group, []) if m.customer_id not in held)
        base = max(len(held), len(held) + joining - len(plan.removes.get(group, [])))
        if len(customers) > max(policy.min_changes, policy.max_share * base):
            findings.append(
                f"group '{group}' would change by {len(customers):,} of {base:,} members "
                f"({len(customers) / base:.1%})"
            )
    if findings and not policy.allow_large_change:
        raise BlastRadiusExceeded(
            f"Live sync blocked by the blast-radius check (limit {policy.max_share:.0%} per "
            "sync): " + "; ".join(findings) + ". Review the dry run, then set "
            "allow_large_change to proceed."
        )
    return findings
