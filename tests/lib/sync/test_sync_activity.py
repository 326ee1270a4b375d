"""Who has new activity between two scorings, read from the marts in data time."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipeline.lib.sync.activity import customers_active_between, read_new_activity

MARTS = """
create schema marts;
create schema ml;
create table ml.customer_scores (customer_id varchar, as_of_date date);
insert into ml.customer_scores values ('a', '2026-03-01'), ('a', '2026-03-03');
create table marts.customers (customer_id varchar, first_seen_at timestamp,
    email_consent_at timestamp, suppressed_at timestamp);
insert into marts.customers values
    ('old', '2025-01-01', null, null),
    ('new', '2026-03-02 10:00', null, null),
    ('unsubscribed', '2025-01-01', '2026-03-01 00:00', null),
    ('suppressed', '2025-01-01', '2025-06-01', '2026-03-03 00:00');
create table marts.orders (customer_id varchar, ordered_at timestamp, attributed_at timestamp,
    cancelled_at timestamp, refund_known_at timestamp);
insert into marts.orders values
    ('buyer', '2026-03-02 23:59', '2025-01-01', null, null),
    ('linked_late', '2026-02-10', '2026-03-05', null, null),
    ('refunded', '2026-01-05', '2025-01-01', null, '2026-03-01 08:00'),
    (null, '2026-03-02', null, null, null);
create table marts.email_events (customer_id varchar, occurred_at timestamp,
    attributed_at timestamp);
insert into marts.email_events values
    ('opener', '2026-03-01 12:00', '2025-01-01'),
    ('earlier', '2026-02-28 23:59', '2025-01-01');
"""


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:")
    connection.execute(MARTS)
    yield connection
    connection.close()


def test_activity_is_every_own_record_visible_in_the_window(con):
    # No site events mart: it explains nothing, the others still do.
    active = customers_active_between(con, date(2026, 3, 1), date(2026, 3, 3))
    assert active == {"new", "unsubscribed", "buyer", "refunded", "opener"}
    # An order attributed after the window was not visible to the scores compared.
    assert "linked_late" in customers_active_between(con, date(2026, 3, 3), date(2026, 3, 6))
    assert customers_active_between(con, date(2026, 3, 3), date(2026, 3, 3)) == frozenset()


def test_the_window_runs_from_the_scores_last_synced_to_the_latest_in_either_direction(con):
    con.execute(
        "create table marts.site_events (customer_id varchar, occurred_at timestamp,"
        " attributed_at timestamp);"
        "insert into marts.site_events values ('browser', '2026-03-02 09:00', null)"
    )
    activity = read_new_activity(con, since=date(2026, 3, 1))
    assert (activity.since, activity.until, activity.known) == (
        date(2026, 3, 1),
        date(2026, 3, 3),
        True,
    )
    assert activity.customers == {"new", "unsubscribed", "buyer", "refunded", "opener", "browser"}
    # A backfill re-syncing an older day compares it with the later scores last synced.
    backfill = read_new_activity(con, since=date(2026, 3, 6))
    assert backfill.customers == {"suppressed", "linked_late"}
    unknown = read_new_activity(con, since=None)
    assert not unknown.known and unknown.customers == frozenset()


def test_without_scores_nothing_is_known(con):
    con.execute("drop table ml.customer_scores")
    activity = read_new_activity(con, since=date(2026, 3, 1))
    assert activity.until is None and not activity.known
