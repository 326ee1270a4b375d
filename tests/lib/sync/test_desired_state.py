"""The desired state read from hand-made marts, with and without the ML stage's scores."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from pipeline.lib.erasure.keys import SALT_ENV, ensure_table, identifier_hash, salt_fingerprint
from pipeline.lib.sync.desired import read_desired_state, scores_available

CUSTOMERS = [
    # customer_id, email, has_invalid_email, klaviyo_profile_id, can_receive_email_marketing
    ("c1", "one@example.com", False, "P1", True),
    ("c2", "two@example.com", False, "P2", False),
    ("c3", "not-an-email", True, "P3", False),
    ("c4", "four@example.com", False, None, True),
]
SEGMENTS = [
    # customer_id, segment, is_holdout
    ("c1", "vip", False),
    ("c1", "tea_lovers", False),
    ("c1", "churn_risk_low", True),
    ("c2", "vip", False),
    ("c4", "lapsed_win_back", True),
]


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    con.execute("create schema marts")
    con.execute(
        "create table marts.customers (customer_id varchar, email varchar, "
        "has_invalid_email boolean, klaviyo_profile_id varchar, "
        "can_receive_email_marketing boolean)"
    )
    con.executemany("insert into marts.customers values (?, ?, ?, ?, ?)", CUSTOMERS)
    con.execute(
        "create table marts.customer_segments (customer_id varchar, segment varchar, "
        "is_holdout boolean)"
    )
    con.executemany("insert into marts.customer_segments values (?, ?, ?)", SEGMENTS)
    return con


def add_scores(con, rows, *, drop: str | None = None):
    con.execute("create schema ml")
    con.execute(
        """create table ml.customer_scores (
        customer_id varchar, as_of_date date, churn_probability double,
        purchase_probability double, cltv_predicted double, churn_tier varchar,
        purchase_tier varchar, cltv_tier varchar, next_best_category varchar,
        expected_next_order_date date, churn_reasons varchar[], purchase_reasons varchar[],
        cltv_reasons varchar[], model_version varchar, score_source varchar,
        scored_at timestamp)"""
    )
    for row in rows:
        con.execute(f"insert into ml.customer_scores values ({', '.join('?' * len(row))})", row)
    if drop:
        con.execute(f"alter table ml.customer_scores drop column {drop}")


def score_row(customer_id: str, as_of: date, churn: float, version: str):
    return (
        customer_id, as_of, churn, 0.4, 123.456, "high", "medium", "low", "tea",
        date(2024, 9, 1), ["no order for 90 days"], [], ["few orders"], version, "lightgbm",
        datetime(2024, 8, 29, 6, 0),
    )  # fmt: skip


def by_id(con, destination="klaviyo"):
    return {c.customer_id: c for c in read_desired_state(con, destination)}


def test_segments_leave_out_the_holdout_and_every_customer_is_there(con):
    assert not scores_available(con)
    desired = by_id(con)
    assert list(desired) == ["c1", "c2", "c3", "c4"]
    assert desired["c1"].segments == {"vip", "tea_lovers"}
    assert desired["c1"].properties == {
        "foresight_segments": ["tea_lovers", "vip"],
        "foresight_holdout_segments": ["churn_risk_low"],
        "foresight_is_holdout": True,
    }
    # Consent comes through as the mart says; the plan holds c2 back from every list.
    assert desired["c2"].segments == {"vip"} and not desired["c2"].can_receive_email_marketing
    # Only in a holdout: on no list, and flagged.
    assert desired["c4"].segments == frozenset()
    assert desired["c4"].properties["foresight_is_holdout"] is True
    # No segments at all: empty lists, so segment properties set earlier are cleared.
    assert desired["c3"].properties["foresight_segments"] == []


def test_contact_ids_are_klaviyo_profile_ids_only_for_klaviyo(con):
    assert by_id(con)["c1"].contact_id == "P1"
    assert by_id(con)["c4"].contact_id is None
    assert all(c.contact_id is None for c in by_id(con, "mailchimp").values())


def test_an_invalid_email_is_not_sent(con):
    desired = by_id(con)
    assert desired["c3"].email is None and desired["c3"].contact_id == "P3"
    assert desired["c1"].email == "one@example.com"


def test_scores_of_the_latest_run_become_properties(con):
    add_scores(
        con,
        [
            score_row("c1", date(2024, 8, 28), 0.1, "m1"),
            score_row("c1", date(2024, 8, 29), 0.81234, "m2"),
            score_row("c2", date(2024, 8, 28), 0.5, "m1"),  # not scored in the latest run
        ],
    )
    assert scores_available(con)
    desired = by_id(con)
    props = desired["c1"].properties
    assert props["foresight_churn_probability"] == 0.812
    assert props["foresight_cltv_predicted"] == 123.46
    assert props["foresight_churn_tier"] == "high"
    assert props["foresight_model_version"] == "m2"
    assert props["foresight_churn_reasons"] == ["no order for 90 days"]
    assert props["foresight_expected_next_order_date"] == date(2024, 9, 1)
    assert props["foresight_scored_at"] == datetime(2024, 8, 29, 6, 0)
    assert props["foresight_segments"] == ["tea_lovers", "vip"]
    # A customer the latest run did not score carries no stale scores.
    assert desired["c2"].properties["foresight_churn_probability"] is None
    assert desired["c2"].properties["foresight_model_version"] is None


def test_a_scores_table_missing_a_contract_column_is_a_clear_error(con):
    add_scores(con, [score_row("c1", date(2024, 8, 29), 0.2, "m1")], drop="cltv_tier")
    with pytest.raises(ValueError, match="lacks the columns the sync needs: cltv_tier"):
        read_desired_state(con, "klaviyo")


def test_a_person_erased_since_the_marts_were_built_is_left_out(con, monkeypatch):
    monkeypatch.setenv(SALT_ENV, "test-salt")
    ensure_table(con)
    erased = [
        identifier_hash("email", "one@example.com", "test-salt"),
        identifier_hash("klaviyo", "P4", "test-salt"),
    ]
    con.execute(
        "insert into activation.erasures (request_id, source, identifier_hashes, "
        "salt_fingerprint, requested_at, processed_at, deleted_rows, klaviyo_deletions, run_id) "
        "values ('r', 'test', ?, ?, now(), now(), '{}', 0, 'run')",
        [erased, salt_fingerprint("test-salt")],
    )
    con.execute("update marts.customers set klaviyo_profile_id = 'P4' where customer_id = 'c4'")
    assert [c.customer_id for c in read_desired_state(con, "klaviyo")] == ["c2", "c3"]
    assert [c.customer_id for c in read_desired_state(con, "mailchimp")] == ["c2", "c3", "c4"]
