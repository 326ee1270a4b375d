"""The clock: a view at `now` reveals nothing from `now` on, and agrees with later clocks."""

from __future__ import annotations

from datetime import datetime

import pytest

from sandbox.shop.store import StoreView

EARLY, LATE = datetime(2024, 5, 1), datetime(2024, 8, 29)
# What a client may see of each view: (view, ordering key, the columns that are final once seen).
STABLE_VIEWS = {
    "v_products": ("product_id", "*"),
    "v_order_lines": ("line_id", "*"),
    "v_abandoned_checkouts": ("checkout_id", "*"),
    "v_checkout_lines": ("line_id", "*"),
    "v_metrics": ("metric_id", "*"),
    "v_events": ("event_id", "*"),
    "v_orders": ("order_id", "order_id, name, customer_id, email, created_at, total_price"),
    "v_shopify_customers": ("customer_id", "customer_id, email, first_name, created_at"),
    "v_klaviyo_profiles": ("profile_id", "profile_id, email, created"),
}
TIME_COLUMNS = {
    "v_orders": "created_at",
    "v_shopify_customers": "created_at",
    "v_klaviyo_profiles": "created",
    "v_events": "occurred_at",
    "v_abandoned_checkouts": "created_at",
}


@pytest.fixture(scope="module")
def views(small_store_path):
    early, late = StoreView(small_store_path, EARLY), StoreView(small_store_path, LATE)
    yield early, late
    early.close()
    late.close()


def _rows(view, sql):
    with view.cursor() as cur:
        return cur.execute(sql).fetchall()


@pytest.mark.parametrize("name", sorted(TIME_COLUMNS))
def test_nothing_at_or_after_now_is_visible(views, name):
    early, _ = views
    column = TIME_COLUMNS[name]
    assert _rows(early, f"select count(*) from {name} where {column} >= '{EARLY}'") == [(0,)]
    assert _rows(early, f"select count(*) from {name}")[0][0] > 0


@pytest.mark.parametrize("name", sorted(STABLE_VIEWS))
def test_a_later_clock_agrees_on_everything_before_the_earlier_one(views, name):
    early, late = views
    key, columns = STABLE_VIEWS[name]
    time_column = TIME_COLUMNS.get(name)
    where = f"where {time_column} < '{EARLY}'" if time_column else ""
    seen_early = _rows(early, f"select {columns} from {name} order by {key}")
    seen_late = _rows(late, f"select {columns} from {name} {where} order by {key}")
    if name in ("v_order_lines", "v_checkout_lines"):
        parent = "order_id" if name == "v_order_lines" else "checkout_id"
        source = "v_orders" if name == "v_order_lines" else "v_abandoned_checkouts"
        seen_late = _rows(
            late,
            f"select * from {name} where {parent} in (select {parent} from {source} "
            f"where created_at < '{EARLY}') order by {key}",
        )
    assert seen_early == seen_late


def test_mutable_state_is_shown_as_it_stood_at_now(views):
    early, late = views
    refunded_later = _rows(
        late,
        f"""select count(*) from v_orders where created_at < '{EARLY}'
            and financial_status <> 'PAID' and updated_at >= '{EARLY}'""",
    )[0][0]
    assert refunded_later > 0, "the small store should have a refund that crosses the clock"
    assert _rows(early, "select count(*) from v_orders where financial_status <> 'PAID' "
                 f"and updated_at >= '{EARLY}'") == [(0,)]  # fmt: skip
    assert _rows(early, f"select max(updated_at) < '{EARLY}' from v_shopify_customers") == [(True,)]


def test_klaviyo_consent_follows_the_latest_change_before_now(views):
    _, late = views
    rows = _rows(
        late,
        "select consent, suppression_reason, count(*) from v_klaviyo_profiles group by all",
    )
    states = {(consent, reason) for consent, reason, _ in rows}
    assert ("SUBSCRIBED", None) in states
    assert ("NEVER_SUBSCRIBED", None) in states
    assert ("UNSUBSCRIBED", "UNSUBSCRIBE") in states
