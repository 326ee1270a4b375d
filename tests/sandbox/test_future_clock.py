"""The clock in the simulated future: each day it moves reveals exactly that day's records."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sandbox.server import SandboxClockError, resolve_now
from sandbox.shop.store import StoreView
from tests.conftest import SMALL_STORE

END = datetime.combine(SMALL_STORE.end, datetime.min.time())
# The day after the history, then a day well into the simulated future.
DAYS = [END, END + timedelta(days=40)]
TIME_COLUMNS = {
    "v_orders": ("order_id", "created_at"),
    "v_events": ("event_id", "occurred_at"),
    "v_abandoned_checkouts": ("checkout_id", "created_at"),
    "v_shopify_customers": ("customer_id", "created_at"),
}


def _rows(view: StoreView, sql: str) -> list[tuple]:
    with view.cursor() as cur:
        return cur.execute(sql).fetchall()


@pytest.fixture(scope="module", params=DAYS, ids=["first-future-day", "day-40"])
def day_and_next(request, small_store_path):
    day = request.param
    today = StoreView(small_store_path, day)
    tomorrow = StoreView(small_store_path, day + timedelta(days=1))
    yield day, today, tomorrow
    today.close()
    tomorrow.close()


def test_the_clock_may_advance_up_to_the_end_of_the_simulation():
    until = datetime.combine(SMALL_STORE.simulated_until, datetime.min.time())
    assert resolve_now(SMALL_STORE, until) == until
    assert resolve_now(SMALL_STORE, None) == END
    with pytest.raises(SandboxClockError, match="outside what this store simulated"):
        resolve_now(SMALL_STORE, until + timedelta(days=1))


@pytest.mark.parametrize("name", sorted(TIME_COLUMNS))
def test_the_next_day_reveals_exactly_that_days_records(day_and_next, name):
    day, today, tomorrow = day_and_next
    key, column = TIME_COLUMNS[name]
    seen_today = {r[0] for r in _rows(today, f"select {key} from {name}")}
    seen_tomorrow = {r[0] for r in _rows(tomorrow, f"select {key} from {name}")}
    that_day = {
        r[0]
        for r in _rows(
            tomorrow,
            f"select {key} from {name} where {column} >= '{day}' "
            f"and {column} < '{day + timedelta(days=1)}'",
        )
    }
    assert seen_today <= seen_tomorrow
    assert seen_tomorrow - seen_today == that_day
    later = _rows(tomorrow, f"select count(*) from {name} where {column} >= '{day + timedelta(1)}'")
    assert later == [(0,)]


def test_the_future_brings_new_orders_events_and_consent_changes(day_and_next):
    day, _, tomorrow = day_and_next
    assert _rows(tomorrow, f"select count(*) from v_events where occurred_at >= '{day}'")[0][0] > 0
    # Over 800 customers a single day may hold no order or consent change; a month always does.
    month = StoreView(tomorrow.path, day + timedelta(days=30))
    try:
        new_orders = _rows(month, f"select count(*) from v_orders where created_at >= '{day}'")
        changed_profiles = _rows(
            month, f"select count(*) from v_klaviyo_profiles where updated >= '{day}'"
        )
        people_with_consent_changes = _rows(
            month,
            f"""select count(distinct person_id) from store.consent_changes
                where changed_at >= '{day}' and changed_at < '{month.now}'""",
        )
    finally:
        month.close()
    assert new_orders[0][0] > 0
    # A profile's `updated` moves with its consent, so each consent change shows up as a change.
    assert changed_profiles == people_with_consent_changes
    assert changed_profiles[0][0] > 0
