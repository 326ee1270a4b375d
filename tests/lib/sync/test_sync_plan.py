"""The sync plan (a pure diff) and the blast-radius check, on hand-made states."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from pipeline.lib.sync.blast_radius import (
    BlastRadiusExceeded,
    BlastRadiusPolicy,
    check_blast_radius,
)
from pipeline.lib.sync.plan import AcknowledgedState, Membership, build_plan, summarize
from pipeline.lib.sync.records import DesiredContact, canonical_properties, properties_hash


def contact(n: int, *segments: str, consent: bool = True, **properties) -> DesiredContact:
    return DesiredContact(
        customer_id=f"c{n:03d}",
        email=f"person{n}@example.com",
        contact_id=f"P{n:03d}",
        can_receive_email_marketing=consent,
        properties={"score": n / 100, **properties},
        segments=frozenset(segments),
    )


def acknowledged(contacts: list[DesiredContact], *, confirmed: bool = True) -> AcknowledgedState:
    """The state after a sync that acknowledged exactly `contacts`."""
    state = AcknowledgedState()
    for c in contacts:
        digest = properties_hash(canonical_properties(c.customer_id, c.properties))
        state.contacts[c.customer_id] = (c.contact_id, digest)
        if c.can_receive_email_marketing:
            for group in c.segments:
                membership = Membership(c.contact_id, confirmed)
                state.memberships.setdefault(group, {})[c.customer_id] = membership
    return state


def ids(members) -> list[str]:
    return [m.customer_id for m in members]


def test_first_plan_writes_everyone_and_lists_only_marketable_people():
    desired = [contact(1, "vip"), contact(2, "vip", consent=False), contact(3, "vip", "lapsed")]
    plan = build_plan(desired, AcknowledgedState())
    assert ids(plan.property_writes) == ["c001", "c002", "c003"]
    assert {g: ids(m) for g, m in plan.adds.items()} == {
        "lapsed": ["c003"],
        "vip": ["c001", "c003"],
    }
    assert plan.removes == {} and plan.consent_held_back == {"vip": 1}
    assert plan.planned == 6


def test_nothing_changed_plans_nothing():
    desired = [contact(1, "vip"), contact(2, "vip", consent=False), contact(3, "lapsed")]
    plan = build_plan(desired, acknowledged(desired))
    assert plan.property_writes == [] and plan.adds == {} and plan.removes == {}
    assert plan.planned == 0


def test_only_changed_properties_are_written_and_key_order_does_not_matter():
    before = [contact(1, tier="high", reasons=["a", "b"]), contact(2, tier="low")]
    state = acknowledged(before)
    reordered = DesiredContact(
        "c001",
        "person1@example.com",
        "P001",
        True,
        {"reasons": ("a", "b"), "tier": "high", "score": 0.01},
    )
    plan = build_plan([reordered, contact(2, tier="medium")], state)
    assert ids(plan.property_writes) == ["c002"]
    assert plan.property_writes[0].properties["tier"] == "medium"


def test_losing_consent_removes_only_the_memberships_we_added():
    before = [contact(1, "vip", "lapsed"), contact(2, "vip")]
    state = acknowledged(before)
    plan = build_plan([contact(1, "vip", "lapsed", consent=False), contact(2, "vip")], state)
    assert {g: ids(m) for g, m in plan.removes.items()} == {"lapsed": ["c001"], "vip": ["c001"]}
    assert plan.consent_removals == {"lapsed": {"c001"}, "vip": {"c001"}}
    assert plan.adds == {}


def test_memberships_the_ledger_does_not_hold_are_never_removed():
    # c002 is in no segment and the ledger never added them anywhere: nothing to remove, even
    # if a marketer put them on one of our lists by hand.
    desired = [contact(1, "vip"), contact(2)]
    plan = build_plan(desired, acknowledged([contact(1, "vip"), contact(2)]))
    assert plan.removes == {} and plan.adds == {}


def test_people_who_left_the_desired_state_leave_our_groups():
    state = acknowledged([contact(1, "vip"), contact(2, "vip")])
    plan = build_plan([contact(1, "vip")], state)
    assert {g: ids(m) for g, m in plan.removes.items()} == {"vip": ["c002"]}
    assert plan.removes["vip"][0].contact_id == "P002" and plan.removes["vip"][0].email is None


def test_a_pending_add_is_resent_when_wanted_and_removed_when_not():
    state = acknowledged([contact(1, "vip"), contact(2, "vip")], confirmed=False)
    plan = build_plan([contact(1, "vip"), contact(2)], state)
    assert ids(plan.adds["vip"]) == ["c001"] and ids(plan.removes["vip"]) == ["c002"]


def test_bad_input_is_a_clear_error_or_a_reported_skip():
    with pytest.raises(ValueError, match="c001 appears twice"):
        build_plan([contact(1), contact(1)], AcknowledgedState())
    # An unusable property fails its own row, naming it; the person's memberships still count.
    bad = [contact(1, "vip", nested={"a": 1}), contact(2, score=float("inf")), contact(3)]
    plan = build_plan(bad, AcknowledgedState())
    assert [(o.customer_id, o.status) for o in plan.rejected] == [
        ("c001", "error"),
        ("c002", "error"),
    ]
    assert "property 'nested' is a dict" in plan.rejected[0].error
    assert "property 'score' is inf" in plan.rejected[1].error
    assert [w.customer_id for w in plan.property_writes] == ["c003"]
    assert [m.customer_id for m in plan.adds["vip"]] == ["c001"]
    nobody = DesiredContact("c009", None, None, True, {}, frozenset({"vip"}))
    plan = build_plan([nobody], AcknowledgedState())
    assert [(o.customer_id, o.status, o.error) for o in plan.rejected] == [
        ("c009", "skipped", "no email and no contact id")
    ]
    assert plan.adds == {} and plan.property_writes == []


def test_properties_from_pandas_rows_become_json_values():
    clean = canonical_properties(
        "c1",
        {
            "n": np.int64(3),
            "missing": float("nan"),
            "at": datetime(2024, 8, 29, 6),
            "reasons": np.array(["a", "b"]),
        },
    )
    assert clean == {"n": 3, "missing": None, "at": "2024-08-29T06:00:00", "reasons": ["a", "b"]}
    json.dumps(clean, allow_nan=False)


def test_the_summary_counts_per_group_and_carries_no_emails():
    desired = [contact(n, "vip", consent=n % 4 != 0) for n in range(1, 30)]
    summary = summarize(build_plan(desired, AcknowledgedState()), sample_size=5)
    assert summary["groups"]["vip"] == {
        "adds": 22,
        "removes": 0,
        "consent_removals": 0,
        "held_back_for_consent": 7,
    }
    assert len(summary["sample"]) == 5 and "@" not in json.dumps(summary)


# -- blast radius --------------------------------------------------------------------------


def population(n: int, vip_every: int) -> list[DesiredContact]:
    return [contact(i, *(["vip"] if i % vip_every == 0 else [])) for i in range(n)]


STRICT = BlastRadiusPolicy(max_share=0.2, min_changes=0)


def test_an_oversized_change_is_blocked_with_its_numbers():
    before = population(100, vip_every=2)  # 50 in vip
    after = population(100, vip_every=3)  # 34 in vip: 33 leave, 17 join
    state = acknowledged(before)
    plan = build_plan(after, state)
    with pytest.raises(BlastRadiusExceeded) as blocked:
        check_blast_radius(plan, state, STRICT)
    message = str(blocked.value)
    assert "50 of 100 contacts (50.0%) would change list membership" in message
    assert "group 'vip' would change by 50 of 50 members (100.0%)" in message
    assert "allow_large_change" in message
    override = BlastRadiusPolicy(max_share=0.2, min_changes=0, allow_large_change=True)
    assert len(check_blast_radius(plan, state, override)) == 2


def test_a_small_change_passes_and_the_first_sync_is_exempt():
    before = population(100, vip_every=2)
    after = [*before[:-2], contact(98), contact(99, "vip")]  # c098 leaves vip, c099 joins
    state = acknowledged(before)
    assert check_blast_radius(build_plan(after, state), state, STRICT) == []
    first = AcknowledgedState()
    assert check_blast_radius(build_plan(after, first), first, STRICT) == []


def test_min_changes_keeps_small_segments_from_blocking():
    before = [contact(i, "vip" if i < 5 else "other") for i in range(100)]
    after = [contact(i, "vip" if i < 2 else "other") for i in range(100)]
    state = acknowledged(before)
    plan = build_plan(after, state)
    with pytest.raises(BlastRadiusExceeded, match="'vip' would change by 3 of 5"):
        check_blast_radius(plan, state, STRICT)
    assert check_blast_radius(plan, state, BlastRadiusPolicy(max_share=0.2, min_changes=3)) == []


def test_consent_removals_and_a_new_group_never_block():
    before = population(100, vip_every=1)
    state = acknowledged(before)
    # Half the people unsubscribe, and a brand-new segment takes in everyone.
    after = [contact(i, "vip", "new", consent=i % 2 == 0) for i in range(100)]
    plan = build_plan(after, state)
    assert len(plan.removes["vip"]) == 50 and len(plan.adds["new"]) == 50
    assert check_blast_radius(plan, state, STRICT) == []


def _scored(n: int, **changes) -> DesiredContact:
    properties = {
        "foresight_churn_probability": 0.412,
        "foresight_churn_tier": "medium",
        "foresight_cltv_predicted": 123.4,
        "foresight_expected_next_order_date": "2026-01-06",
        "foresight_scored_at": "2026-01-01T05:00:00",
        "foresight_model_version": "fallback-20260101",
        "foresight_churn_reasons": ["quiet for 87% of their time", "last order on 2025-11-02"],
        **changes,
    }
    return contact(n, "vip", **properties)


def test_a_day_of_rescoring_noise_rewrites_nobody():
    yesterday = [_scored(1), _scored(2)]
    today = [
        _scored(
            1,
            foresight_churn_probability=0.418,
            foresight_scored_at="2026-01-02T05:00:00",
            foresight_model_version="fallback-20260102",
        ),
        _scored(2, foresight_cltv_predicted=124.9, foresight_expected_next_order_date="2026-01-09"),
        _scored(
            3,
            foresight_churn_reasons=["last order on 2025-11-02", "quiet for 88% of their time"],
        ),
    ]
    plan = build_plan(today, acknowledged([*yesterday, _scored(3)]))
    assert plan.property_writes == [] and plan.planned == 0


def test_what_a_marketer_acts_on_rewrites_with_every_current_value():
    yesterday = [_scored(n) for n in range(1, 6)]
    today = [
        _scored(1, foresight_churn_tier="high"),
        _scored(2, foresight_churn_probability=0.47),  # crosses a 10-point step
        _scored(3, foresight_cltv_predicted=160.0),  # moves by more than a 25% step
        _scored(4, foresight_expected_next_order_date="2026-01-13"),  # the next week
        _scored(5, foresight_scored_at="2026-01-02T05:00:00"),
        _scored(6, foresight_churn_reasons=["quiet for 87% of their time", "2 orders so far"]),
        _scored(
            7, foresight_churn_reasons=["quiet for 87% of their time", "last order on 2026-01-01"]
        ),
    ]
    plan = build_plan(today, acknowledged([*yesterday, _scored(6), _scored(7)]))
    assert ids(plan.property_writes) == ["c001", "c002", "c003", "c004", "c006", "c007"]
    # The write carries today's values in full, scored_at included.
    assert plan.property_writes[1].properties["foresight_churn_probability"] == 0.47
    assert plan.property_writes[0].properties["foresight_scored_at"] == "2026-01-01T05:00:00"


def synced_values(contacts: list[DesiredContact]) -> AcknowledgedState:
    """The state after a sync that acknowledged `contacts`, keeping the values it sent."""
    state = acknowledged(contacts)
    for c in contacts:
        state.synced[c.customer_id] = canonical_properties(c.customer_id, c.properties)
    return state


def test_from_synced_values_a_drift_across_a_grid_line_rewrites_nobody():
    # 0.412 -> 0.452 crosses the 10-point grid line at 0.45: the hash compares grid steps and
    # rewrites; measured from the value synced, it moved 4 points, which is no change.
    drifted = [_scored(1, foresight_churn_probability=0.452)]
    assert ids(build_plan(drifted, acknowledged([_scored(1)])).property_writes) == ["c001"]
    assert build_plan(drifted, synced_values([_scored(1)])).property_writes == []
    # And days of drift add up: once a full step from what was synced, it is rewritten.
    further = [_scored(1, foresight_churn_probability=0.512)]
    assert ids(build_plan(further, synced_values([_scored(1)])).property_writes) == ["c001"]


def test_from_synced_values_each_kind_of_value_moves_by_its_own_step():
    synced = synced_values([_scored(n) for n in range(1, 10)])
    today = [
        _scored(1, foresight_cltv_predicted=123.4 * 1.24),  # under a 25% step
        _scored(2, foresight_cltv_predicted=123.4 * 1.26),  # over it
        _scored(3, foresight_expected_next_order_date="2026-01-12"),  # 6 days on
        _scored(4, foresight_expected_next_order_date="2026-01-13"),  # a week on
        _scored(
            5, foresight_churn_reasons=["last order on 2025-11-02", "quiet for 90% of their time"]
        ),
        _scored(6, foresight_churn_reasons=["quiet for 87% of their time", "2 orders so far"]),
        _scored(7, foresight_churn_tier="high"),
        _scored(8, foresight_scored_at="2026-01-02T05:00:00", foresight_score_source="btyd"),
        _scored(9, foresight_churn_probability=None),
    ]
    assert ids(build_plan(today, synced).property_writes) == ["c002", "c004", "c007", "c009"]


def test_from_synced_values_reasons_change_when_the_strongest_or_several_do():
    three = ["quiet for 87% of their time", "last order on 2025-11-02", "2 orders so far"]
    synced = synced_values([_scored(n, foresight_churn_reasons=three) for n in range(1, 6)])
    today = [
        # The reasons trade places, or a weaker one gives way to a near-equal one.
        _scored(1, foresight_churn_reasons=[three[1], three[2], three[0]]),
        _scored(2, foresight_churn_reasons=[three[0], three[1], "opens 31% of emails (90 days)"]),
        # The strongest reason is a new one.
        _scored(3, foresight_churn_reasons=["no clicks", three[0], three[1]]),
        # Both weaker reasons are new.
        _scored(4, foresight_churn_reasons=[three[0], "spent 0 in the last year", "no clicks"]),
        # No reason any more.
        _scored(5, foresight_churn_reasons=[]),
    ]
    assert ids(build_plan(today, synced).property_writes) == ["c003", "c004", "c005"]
