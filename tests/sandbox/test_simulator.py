"""The simulated store: deterministic, plausible, and dirty in the documented ways."""

from __future__ import annotations

import duckdb
import pytest

from sandbox.shop.simulator import StoreSpec, generate_store
from tests.conftest import SMALL_STORE

TABLES = (
    "people", "shopify_customers", "products", "orders", "order_lines", "checkouts",
    "checkout_lines", "consent_changes", "campaigns", "metrics", "events",
)  # fmt: skip


def _digest(path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            table: con.execute(
                f"select count(*) || ':' || coalesce(sum(hash(t)), 0) from {table} as t"
            ).fetchall()[0][0]
            for table in TABLES
        }


@pytest.fixture(scope="module")
def store(small_store_path):
    con = duckdb.connect(str(small_store_path), read_only=True)
    yield con
    con.close()


def test_same_spec_gives_identical_store(tmp_path, small_store_path):
    again = tmp_path / "again.duckdb"
    generate_store(SMALL_STORE, again)
    assert _digest(again) == _digest(small_store_path)


def test_another_seed_gives_another_store(tmp_path, small_store_path):
    other = tmp_path / "other.duckdb"
    generate_store(StoreSpec(**{**SMALL_STORE.__dict__, "seed": 8}), other)
    assert _digest(other)["orders"] != _digest(small_store_path)["orders"]


def _one(store, sql):
    return store.execute(sql).fetchall()[0][0]


def test_repeat_purchase_share_and_gaps_are_plausible(store):
    repeat_share = _one(
        store,
        """select avg((n >= 2)::int) from (
               select person_id, count(*) as n from orders where not test group by 1)""",
    )
    median_gap = _one(
        store,
        """select median(gap) from (
               select date_diff('day', lag(created_at) over (partition by person_id
                   order by created_at), created_at) as gap from orders where not test)""",
    )
    assert 0.25 <= repeat_share <= 0.75
    assert 7 <= median_gap <= 120


def test_email_engagement_rates_are_plausible(store):
    counts = dict(
        store.execute(
            "select m.name, count(*) from events e join metrics m using (metric_index) group by 1"
        ).fetchall()
    )
    received = counts["Received Email"]
    assert 0.15 <= counts["Opened Email"] / received <= 0.45
    assert 0.005 <= counts["Clicked Email"] / received <= 0.08
    assert counts["Unsubscribed from Email Marketing"] / received < 0.01
    assert {"Viewed Product", "Added to Cart", "Started Checkout", "Placed Order"} <= set(counts)


def test_every_order_has_lines_whose_sum_is_its_subtotal(store):
    mismatched = _one(
        store,
        """select count(*) from orders o join (
               select order_id, sum(quantity * unit_price) as lines_total from order_lines
               group by 1) l using (order_id)
           where abs(o.subtotal - l.lines_total) > 0.01""",
    )
    without_lines = _one(
        store, "select count(*) from orders anti join order_lines using (order_id)"
    )
    assert mismatched == 0
    assert without_lines == 0


def test_dirt_is_present(store):
    duplicates = _one(store, "select count(*) from shopify_customers where is_duplicate")
    variant_emails = _one(
        store,
        """select count(*) from shopify_customers d join people p using (person_id)
           where d.is_duplicate and d.email <> p.email and lower(trim(d.email)) = p.email""",
    )
    assert duplicates > 0 and variant_emails == duplicates
    assert _one(store, "select count(*) from orders where test") >= 2
    assert _one(store, "select count(*) from people where first_name is null") > 0
    assert _one(store, "select count(*) from orders where tz_offset_minutes <> 0") > 0
    assert _one(store, "select count(*) from people where email_state <> 'ok'") > 0


def test_store_simulates_a_year_past_the_history(store):
    last_order = _one(store, "select max(created_at)::date from orders")
    assert str(last_order) > "2024-12-01"  # history ends 2024-08-28; the future runs a year more
