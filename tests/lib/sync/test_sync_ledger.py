"""The sync ledger in DuckDB: acknowledged state round-trips, pending adds, and outcome rows."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.sync.ledger import SyncLedger
from pipeline.lib.sync.plan import Membership
from pipeline.lib.sync.records import Member, Outcome


@pytest.fixture
def ledger(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as con:
        yield SyncLedger(con, "klaviyo")


def test_acknowledged_properties_round_trip_and_errors_leave_no_state(ledger):
    outcomes = [
        Outcome("c1", "ok", "P1"),
        Outcome("c2", "error", None, "invalid: bad email"),
        Outcome("c3", "ok", "P3"),
    ]
    ledger.record("run-1", "set_properties", outcomes, hashes={"c1": "h1", "c2": "h2", "c3": "h3"})
    ledger.record("run-2", "set_properties", [Outcome("c1", "ok", None)], hashes={"c1": "h1b"})
    state = ledger.load_state()
    # A later acknowledgement without an id keeps the id learned before.
    assert state.contacts == {"c1": ("P1", "h1b"), "c3": ("P3", "h3")}
    rows = ledger.con.execute(
        "select run_id, customer_id, action, target, outcome, error"
        " from activation.sync_ledger order by run_id, customer_id"
    ).fetchall()
    assert rows == [
        ("run-1", "c1", "set_properties", "", "ok", None),
        ("run-1", "c2", "set_properties", "", "error", "invalid: bad email"),
        ("run-1", "c3", "set_properties", "", "ok", None),
        ("run-2", "c1", "set_properties", "", "ok", None),
    ]


def test_an_add_is_pending_until_acknowledged(ledger):
    members = [Member(f"c{n}", None, f"P{n}") for n in range(4)]
    ledger.mark_pending("vip", members, "run-1")
    assert ledger.load_state().memberships["vip"]["c0"] == Membership("P0", False)
    outcomes = [
        Outcome("c0", "ok", "P0"),
        Outcome("c1", "error", "P1", "HTTP 500"),
        Outcome("c2", "skipped", "P2", "cannot receive email marketing"),
        Outcome("c3", "ok", "P3"),
    ]
    ledger.record("run-1", "add_to_group", outcomes, group="vip")
    held = ledger.load_state().memberships["vip"]
    # A failed call may have reached the platform: still ours, still to confirm. A skipped add
    # was never sent: not ours.
    assert held == {
        "c0": Membership("P0", True),
        "c1": Membership("P1", False),
        "c3": Membership("P3", True),
    }
    ledger.mark_pending("vip", [Member("c0", None, "P0")], "run-2")
    assert ledger.load_state().memberships["vip"]["c0"].confirmed  # never downgraded
    removed = [Outcome("c0", "ok", "P0"), Outcome("c1", "error", "P1", "HTTP 500")]
    ledger.record("run-2", "remove_from_group", removed, group="vip")
    assert set(ledger.load_state().memberships["vip"]) == {"c1", "c3"}


def test_destinations_are_kept_apart_and_a_failed_batch_rolls_back(ledger):
    ledger.record("run-1", "set_properties", [Outcome("c1", "ok", "P1")], hashes={"c1": "h"})
    other = SyncLedger(ledger.con, "mailchimp")
    assert other.load_state().is_empty and not ledger.load_state().is_empty
    with pytest.raises(duckdb.Error):
        # No hash for an acknowledged write violates the state table: nothing is kept.
        ledger.record("run-2", "set_properties", [Outcome("c2", "ok", "P2")], hashes={})
    (count,) = ledger.con.execute(
        "select count(*) from activation.sync_ledger where run_id = 'run-2'"
    ).fetchone()
    assert count == 0


def test_the_values_sent_round_trip_for_later_plans_to_measure_from(ledger):
    sent = {"foresight_churn_probability": 0.412, "foresight_churn_reasons": ["quiet"]}
    outcomes = [Outcome("c1", "ok", "P1"), Outcome("c2", "error", None, "invalid")]
    ledger.record(
        "run-1", "set_properties", outcomes, hashes={"c1": "h1", "c2": "h2"},
        synced={"c1": sent, "c2": sent},
    )  # fmt: skip
    assert ledger.load_state().synced == {"c1": sent}


def test_a_ledger_from_before_the_values_were_kept_gains_them_on_the_next_write(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as con:
        con.execute("create schema activation")
        con.execute(
            "create table activation.sync_state (destination varchar not null,"
            " customer_id varchar not null, contact_id varchar, properties_hash varchar not null,"
            " acknowledged_at timestamp not null, run_id varchar not null,"
            " primary key (destination, customer_id))"
        )
        con.execute(
            "insert into activation.sync_state values ('klaviyo', 'c1', 'P1', 'h1', now(), 'r0')"
        )
        ledger = SyncLedger(con, "klaviyo")
        state = ledger.load_state()
        assert state.contacts == {"c1": ("P1", "h1")} and state.synced == {}
        ledger.record(
            "run-1", "set_properties", [Outcome("c1", "ok", None)], hashes={"c1": "h1b"},
            synced={"c1": {"foresight_churn_tier": "high"}},
        )  # fmt: skip
        state = ledger.load_state()
        assert state.contacts == {"c1": ("P1", "h1b")}
        assert state.synced == {"c1": {"foresight_churn_tier": "high"}}
