"""The blast-radius check counts only moves no new activity explains: a campaign day passes, the
same moves of people whose data did not change are blocked, and a ledger from before the
activity window still plans and checks."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipeline.lib.sync import BlastRadiusExceeded, NewActivity, SyncLedger, build_plan, sync
from pipeline.lib.sync.blast_radius import BlastRadiusPolicy, check_blast_radius
from tests.lib.sync.sync_fixtures import new_ledger
from tests.lib.sync.test_sync_plan import acknowledged, contact
from tests.lib.sync.test_sync_safety import MemoryDestination, person

STRICT = BlastRadiusPolicy(max_share=0.2, min_changes=0)
DAY_BEFORE, DAY = date(2026, 3, 1), date(2026, 3, 2)


def campaign_day():
    """100 contacts, 50 in 'vip'; the next day 40 of them leave and 40 others join."""
    before = [contact(i, *(["vip"] if i < 50 else [])) for i in range(100)]
    after = [contact(i, *(["vip"] if 40 <= i < 90 else [])) for i in range(100)]
    state = acknowledged(before)
    return build_plan(after, state), state, [f"c{i:03d}" for i in [*range(40), *range(50, 90)]]


def test_a_campaign_day_whose_movers_all_have_new_activity_is_not_blocked():
    plan, state, movers = campaign_day()
    activity = NewActivity(DAY_BEFORE, DAY, frozenset(movers))
    assert len(plan.adds["vip"]) == 40 and len(plan.removes["vip"]) == 40
    assert check_blast_radius(plan, state, STRICT, activity) == []


def test_the_same_moves_without_new_activity_are_blocked_with_both_numbers():
    plan, state, _ = campaign_day()
    quiet = NewActivity(DAY_BEFORE, DAY, frozenset({"c095"}))  # someone who did not move
    with pytest.raises(BlastRadiusExceeded) as blocked:
        check_blast_radius(plan, state, STRICT, quiet)
    message = str(blocked.value)
    assert "80 of 100 contacts (80.0%) would change list membership" in message
    assert "group 'vip' would change by 80 of 50 members (160.0%)" in message
    assert "no new activity of their own since the scores as of 2026-03-01" in message
    assert "(0 more moves are explained by new activity)" in message


def test_a_mix_counts_only_the_unexplained_moves():
    plan, state, movers = campaign_day()
    # 65 of the 80 movers have new activity: 15 unexplained, 15% of contacts, 30% of 'vip'.
    activity = NewActivity(DAY_BEFORE, DAY, frozenset(movers[:65]))
    with pytest.raises(BlastRadiusExceeded) as blocked:
        check_blast_radius(plan, state, STRICT, activity)
    (finding,) = str(blocked.value).split(": ", 1)[1].split("; ")
    assert finding.startswith("group 'vip' would change by 15 of 50 members (30.0%)")
    assert "(65 more moves are explained by new activity)" in finding
    # Five more with activity: 10 unexplained, 20% of 'vip', which the limit allows.
    enough = NewActivity(DAY_BEFORE, DAY, frozenset(movers[:70]))
    assert check_blast_radius(plan, state, STRICT, enough) == []


def test_without_a_record_of_the_scores_last_synced_no_move_is_explained():
    plan, state, movers = campaign_day()
    unknown = NewActivity(None, DAY, frozenset(movers))
    with pytest.raises(BlastRadiusExceeded, match="no record of the scores this destination"):
        check_blast_radius(plan, state, STRICT, unknown)
    override = BlastRadiusPolicy(max_share=0.2, min_changes=0, allow_large_change=True)
    assert len(check_blast_radius(plan, state, override, unknown)) == 2


def test_a_ledger_from_before_still_plans_checks_and_then_records_the_scores(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute(
        """create schema activation;
        create table activation.sync_state (destination varchar not null,
            customer_id varchar not null, contact_id varchar, properties_hash varchar not null,
            acknowledged_at timestamp not null, run_id varchar not null,
            primary key (destination, customer_id));
        create table activation.sync_memberships (destination varchar not null,
            group_name varchar not null, customer_id varchar not null, contact_id varchar,
            status varchar not null, updated_at timestamp not null, run_id varchar not null,
            primary key (destination, group_name, customer_id));
        insert into activation.sync_memberships
            select 'memory', 'vip', printf('c%03d', i), null, 'added', now(), 'old'
            from range(50) as t(i);"""
    )
    ledger = SyncLedger(con, "memory")
    assert ledger.synced_scores_as_of() is None
    destination = MemoryDestination(property_batch_size=100, group_batch_size=100)
    destination.groups["vip"] = {f"c{i:03d}" for i in range(50)}
    people = [person(n, *(["vip"] if 40 <= n < 90 else [])) for n in range(100)]
    unknown = NewActivity(ledger.synced_scores_as_of(), DAY)
    with pytest.raises(BlastRadiusExceeded, match="no record of the scores"):
        sync(people, destination, ledger, run_id="r1", activity=unknown)
    assert ledger.synced_scores_as_of() is None and destination.calls == []
    reviewed = BlastRadiusPolicy(allow_large_change=True)
    sync(people, destination, ledger, run_id="r2", activity=unknown, policy=reviewed)
    assert destination.groups["vip"] == {f"c{i:03d}" for i in range(40, 90)}
    assert ledger.synced_scores_as_of() == DAY


def test_only_a_live_sync_past_the_check_records_the_scores_it_sent():
    destination = MemoryDestination(property_batch_size=100, group_batch_size=100)
    ledger = new_ledger()
    people = [person(n, "vip" if n < 50 else "lapsed") for n in range(100)]
    sync(people, destination, ledger, run_id="r1", activity=NewActivity(None, DAY_BEFORE))
    assert ledger.synced_scores_as_of() == DAY_BEFORE
    moved = [person(n, "lapsed" if n < 50 else "vip") for n in range(100)]
    quiet = NewActivity(DAY_BEFORE, DAY)
    dry = sync(moved, destination, ledger, run_id="r2", dry_run=True, activity=quiet)
    assert dry.moves == {"explained_by_new_activity": 0, "unexplained": 100}
    with pytest.raises(BlastRadiusExceeded):
        sync(moved, destination, ledger, run_id="r3", activity=quiet)
    assert ledger.synced_scores_as_of() == DAY_BEFORE
    everyone = NewActivity(DAY_BEFORE, DAY, frozenset(p.customer_id for p in moved))
    result = sync(moved, destination, ledger, run_id="r4", activity=everyone)
    assert result.moves == {"explained_by_new_activity": 100, "unexplained": 0}
    assert result.blast_radius == [] and destination.groups["vip"] == {
        f"c{n:03d}" for n in range(50, 100)
    }
    assert ledger.synced_scores_as_of() == DAY
