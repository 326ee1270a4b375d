"""The sync plan: a pure diff of the desired state against what a destination last acknowledged.

Grain of the plan: one property write per contact whose canonical properties changed materially
since the ones the destination acknowledged (`records.materially_changed`; by their hash when
the ledger predates keeping them), or who was never acknowledged; one add per contact × group
the person should be in but is not confirmed in; one remove per contact × group that the ledger
says we added (or may have added: a pending add) and the person should no longer be in.

Consent is decided here, before any destination is called: a contact who cannot receive email
marketing may get properties but never an add, and every membership we added for them is
removed ("consent removals", always applied, never held back by the blast-radius check).
Memberships we did not add are never removed: the ledger is the only source of removals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.lib.sync.records import (
    DesiredContact,
    Member,
    Outcome,
    PropertyWrite,
    canonical_properties,
    materially_changed,
    properties_hash,
)


@dataclass(frozen=True)
class Membership:
    """A membership the ledger holds: `confirmed` once the destination acknowledged the add."""

    contact_id: str | None
    confirmed: bool


@dataclass
class AcknowledgedState:
    """What one destination last acknowledged, from the ledger.

    `contacts`: customer_id -> (destination contact id, properties hash);
    `synced`: customer_id -> the canonical properties acknowledged (when the ledger kept them);
    `memberships`: group -> customer_id -> Membership (only memberships we added).
    """

    contacts: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    synced: dict[str, dict] = field(default_factory=dict)
    memberships: dict[str, dict[str, Membership]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """True before the first sync: nothing was ever acknowledged."""
        return not self.contacts and not any(self.memberships.values())


@dataclass
class SyncPlan:
    """The writes a sync should make, and what it held back for consent."""

    contacts: int
    property_writes: list[PropertyWrite] = field(default_factory=list)
    adds: dict[str, list[Member]] = field(default_factory=dict)
    removes: dict[str, list[Member]] = field(default_factory=dict)
    consent_removals: dict[str, set[str]] = field(default_factory=dict)
    consent_held_back: dict[str, int] = field(default_factory=dict)
    rejected: list[Outcome] = field(default_factory=list)

    @property
    def groups(self) -> list[str]:
        """Every group the plan touches or holds back, sorted."""
        names = set(self.adds) | set(self.removes) | set(self.consent_held_back)
        return sorted(names)

    @property
    def planned(self) -> int:
        """Planned contact × action rows (writes to send, plus rejected inputs)."""
        members = sum(map(len, self.adds.values())) + sum(map(len, self.removes.values()))
        return len(self.property_writes) + members + len(self.rejected)


def build_plan(desired: Iterable[DesiredContact], state: AcknowledgedState) -> SyncPlan:
    """Diff `desired` against `state`. A duplicate customer id raises `ValueError` (the desired
    state itself is broken); a contact with unusable properties is rejected as an error and one
    with neither email nor contact id is skipped, both reported, while their memberships are
    still planned: one bad row never holds back anyone else, nor its own consent removals."""
    plan = SyncPlan(contacts=0)
    adds: dict[str, list[Member]] = defaultdict(list)
    removes: dict[str, list[Member]] = defaultdict(list)
    seen: set[str] = set()
    for contact in desired:
        if contact.customer_id in seen:
            raise ValueError(f"customer {contact.customer_id} appears twice in the desired state")
        seen.add(contact.customer_id)
        plan.contacts += 1
        known_id, known_hash = state.contacts.get(contact.customer_id, (None, None))
        contact_id = contact.contact_id or known_id
        if not (contact.email or contact_id):
            plan.rejected.append(
                Outcome(contact.customer_id, "skipped", error="no email and no contact id")
            )
        else:
            synced = state.synced.get(contact.customer_id)
            write = _property_write(contact, contact_id, known_hash, synced, plan.rejected)
            if write is not None:
                plan.property_writes.append(write)
        member = Member(contact.customer_id, contact.email, contact_id)
        for group in sorted(contact.segments):
            ours = state.memberships.get(group, {}).get(contact.customer_id)
            if not contact.can_receive_email_marketing:
                plan.consent_held_back[group] = plan.consent_held_back.get(group, 0) + 1
            elif (ours is None or not ours.confirmed) and (contact.email or contact_id):
                adds[group].append(member)
        for group, members in state.memberships.items():
            ours = members.get(contact.customer_id)
            wanted = contact.can_receive_email_marketing and group in contact.segments
            if ours is not None and not wanted:
                removes[group].append(
                    Member(contact.customer_id, contact.email, ours.contact_id or contact_id)
                )
                if not contact.can_receive_email_marketing:
                    plan.consent_removals.setdefault(group, set()).add(contact.customer_id)
    # People no longer in the desired state at all leave every group we put them in.
    for group, members in state.memberships.items():
        for customer_id, ours in members.items():
            if customer_id not in seen:
                removes[group].append(Member(customer_id, None, ours.contact_id))
    plan.adds = {g: sorted(m, key=_key) for g, m in sorted(adds.items())}
    plan.removes = {g: sorted(m, key=_key) for g, m in sorted(removes.items())}
    return plan


def _property_write(
    contact: DesiredContact,
    contact_id: str | None,
    known_hash: str | None,
    synced: dict | None,
    rejected: list,
) -> PropertyWrite | None:
    """The write `contact` needs, or None when nothing changed or its properties are unusable
    (then an error outcome naming the property joins `rejected`)."""
    try:
        properties = canonical_properties(contact.customer_id, contact.properties)
    except ValueError as error:
        rejected.append(Outcome(contact.customer_id, "error", contact_id, str(error)))
        return None
    digest = properties_hash(properties)
    unchanged = (
        not materially_changed(synced, properties) if synced is not None else digest == known_hash
    )
    if unchanged:
        return None
    return PropertyWrite(contact.customer_id, contact.email, contact_id, properties, digest)


def summarize(plan: SyncPlan, sample_size: int = 20) -> dict:
    """The plan for people to read: counts per group and a sample of rows, without emails."""
    per_group = {
        group: {
            "adds": len(plan.adds.get(group, [])),
            "removes": len(plan.removes.get(group, [])),
            "consent_removals": len(plan.consent_removals.get(group, set())),
            "held_back_for_consent": plan.consent_held_back.get(group, 0),
        }
        for group in plan.groups
    }
    rows = [("set_properties", "", w.customer_id) for w in plan.property_writes]
    for action, changes in (("add_to_group", plan.adds), ("remove_from_group", plan.removes)):
        rows += [(action, g, m.customer_id) for g, members in changes.items() for m in members]
    rows += [("rejected", o.error or "", o.customer_id) for o in plan.rejected]
    sample = [
        {"customer_id": customer_id, "action": action, "target": target}
        for action, target, customer_id in sorted(rows, key=lambda r: (r[2], r[0], r[1]))
    ][:sample_size]
    return {
        "contacts": plan.contacts,
        "property_writes": len(plan.property_writes),
        "rejected": len(plan.rejected),
        "groups": per_group,
        "sample": sample,
    }


def _key(member: Member) -> str:
    return member.customer_id
