"""Segments, holdout and measurement marts built on the small sandbox store, with a fabricated
`ml.customer_scores` (the ML stage is not run here): segment sizes follow their rules, the
holdout is about 10% of every large segment, and a rebuild leaves the history as it was.

Built as of a day inside the history first (no scores then), then as of the end of the history,
so the history holds entries and exits and the measurement marts have weeks of exposure.
"""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from pipeline.lib.ingest.warehouse import connect
from tests.dbt.dbt_helpers import NO_UNIT_TESTS, dbt, dbt_build, unexpected_statuses

pytestmark = pytest.mark.integration

# Deterministic scores from each customer's own history plus a fixed md5 "noise" in [0, 1):
# churn grows with recency, CLTV with revenue; every column of the ML stage's contract.
FABRICATED_SCORES = """
create schema if not exists ml;
create or replace table ml.customer_scores as
with customers as (
    select
        *,
        cast('0x' || left(md5(customer_id || ':noise'), 8) as bigint) / 4294967296.0 as noise
    from marts.customers
)
select
    customer_id,
    as_of_date,
    case when lifetime_orders > 0 then least(0.99, days_since_last_order / 240 + 0.3 * noise) end
        as churn_probability,
    0.8 * noise as purchase_probability,
    lifetime_net_revenue * (0.5 + noise) as cltv_predicted,
    lifetime_net_revenue * 0.5 as cltv_p10,
    lifetime_net_revenue * 2.0 as cltv_p90,
    cast(null as varchar) as churn_tier,
    cast(null as varchar) as purchase_tier,
    cast(null as varchar) as cltv_tier,
    'tea' as next_best_category,
    case
        when lifetime_orders > 0
            then cast(last_order_at as date) + cast(20 + 80 * noise as integer)
    end as expected_next_order_date,
    ['recent orders'] as churn_reasons,
    ['opens emails'] as purchase_reasons,
    ['high spend'] as cltv_reasons,
    'fabricated-1' as model_version,
    'rules' as score_source,
    cast(as_of_date as timestamp) as scored_at
from customers
"""
EARLIER = date(2024, 7, 1)  # inside the history (which ends on 2024-08-27)
LATEST = date(2024, 8, 28)  # the default as-of date: the day after the history
TIERS = ("high", "medium", "low")
# The segment and measurement marts with everything upstream, not the feature marts (nor the
# tests that read them).
SEGMENTS = ("--select", "+int_segment_memberships+", "--indirect-selection", "cautious")
SEGMENTS_ON = ("--select", "int_segment_memberships+", "--indirect-selection", "cautious")


def _rows(warehouse, sql: str) -> list[tuple]:
    with connect(warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory, raw_warehouse):
    root = tmp_path_factory.mktemp("segments")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(raw_warehouse, warehouse)
    # The customers mart first: the fabricated scores are derived from it.
    dbt(warehouse, root / "core", "run", "--select", "+customers")
    with connect(warehouse) as con:
        con.execute(FABRICATED_SCORES)
    earlier = dbt_build(warehouse, root / "earlier", *SEGMENTS, "--vars", f"as_of_date: {EARLIER}")
    latest = dbt_build(warehouse, root / "latest", *SEGMENTS, *NO_UNIT_TESTS)
    history = _rows(warehouse, "select * from marts.segment_history order by all")
    segments = _rows(warehouse, "select * from marts.customer_segments order by all")
    # Rebuilt as the daily run's step after scoring rebuilds them: the segments on, the same
    # upstream.
    rebuilt = dbt_build(warehouse, root / "rebuilt", *SEGMENTS_ON, *NO_UNIT_TESTS)
    return {
        "warehouse": warehouse,
        "builds": [earlier, latest, rebuilt],
        "history": history,
        "segments": segments,
    }


def test_builds_green_with_unit_tests_and_only_size_warnings(built):
    for build in built["builds"]:
        assert unexpected_statuses(build) == []
    unit_tests = {
        result["unique_id"].rsplit(".", 1)[-1]
        for result in built["builds"][0]
        if result["unique_id"].startswith("unit_test.")
    }
    assert {
        "test_vip_and_high_value_at_risk_thresholds",
        "test_non_marketable_members_are_flagged_and_entry_dates_carried",
        "test_holdout_is_a_fixed_hash_of_segment_and_customer",
        "test_holdout_lift_confidence_interval_arithmetic",
        "test_segment_history_records_only_entries_and_exits",
    } <= unit_tests


def test_segment_sizes_follow_their_rules(built):
    warehouse = built["warehouse"]
    sizes = dict(
        _rows(warehouse, "select segment, count(*) from marts.customer_segments group by 1")
    )
    ((customers, scored, with_purchase, with_churn),) = _rows(
        warehouse,
        "select (select count(*) from marts.customers), count(cltv_predicted),"
        " count(purchase_probability), count(churn_probability) from ml.customer_scores",
    )
    assert customers > 500
    # The score tiers split exactly the customers that have the score.
    assert sum(sizes.get(f"purchase_propensity_{tier}", 0) for tier in TIERS) == with_purchase
    assert sum(sizes.get(f"churn_risk_{tier}", 0) for tier in TIERS) == with_churn
    # VIP: at most the top 5% by CLTV, and only people who ordered.
    assert 0 < sizes["vip"] <= 0.05 * scored + 1
    assert 0 < sizes["high_value_at_risk"] <= 0.20 * scored + 1
    for segment in ("new_customers", "active", "lapsed_win_back", "replenishment_due"):
        assert 0 < sizes[segment] < customers, segment
    assert sizes["inactive_subscribers"] > 0 and sizes["checkout_abandoners"] > 0
    assert sizes["tea_lovers"] > 0 and sizes["coffee_lovers"] > 0
    (mismatched,) = _rows(
        warehouse,
        """
        select count(*) from marts.customer_segments as s
        inner join marts.customers as c using (customer_id)
        where s.is_marketable <> c.can_receive_email_marketing
            or (s.segment = 'vip' and c.lifetime_orders = 0)
            or (s.segment = 'new_customers' and c.days_since_first_order >= 30)
            or (s.segment = 'inactive_subscribers' and c.email_consent <> 'subscribed')
        """,
    )[0]
    assert mismatched == 0


def test_holdout_is_about_ten_percent_of_every_large_segment(built):
    shares = _rows(
        built["warehouse"],
        "select segment, count(*), avg(cast(is_holdout as double))"
        " from marts.customer_segments group by 1",
    )
    total = sum(n for _, n, _ in shares)
    overall = sum(n * share for _, n, share in shares) / total
    assert abs(overall - 0.10) <= 0.02, overall
    large = [(segment, share) for segment, n, share in shares if n >= 200]
    assert len(large) >= 4
    for segment, share in large:
        assert abs(share - 0.10) <= 0.05, (segment, share)


def test_history_records_entries_and_exits_and_a_rebuild_changes_nothing(built):
    warehouse = built["warehouse"]
    assert _rows(warehouse, "select * from marts.segment_history order by all") == built["history"]
    assert (
        _rows(warehouse, "select * from marts.customer_segments order by all") == built["segments"]
    )
    spells = dict(
        _rows(
            warehouse,
            "select entered_at::varchar || ' to ' || coalesce(exited_at::varchar, 'now'), count(*)"
            " from marts.segment_history group by 1",
        )
    )
    assert set(spells) == {f"{EARLIER} to {LATEST}", f"{EARLIER} to now", f"{LATEST} to now"}
    assert min(spells.values()) > 10, spells
    # The open rows are exactly today's memberships, each carrying its start.
    ((mismatched,),) = _rows(
        warehouse,
        """
        select count(*) from marts.customer_segments as s
        full join (select * from marts.segment_history where exited_at is null) as h
            using (customer_id, segment)
        where s.entered_at is distinct from h.entered_at
        """,
    )
    assert mismatched == 0


def test_history_may_keep_a_closed_membership_of_a_customer_id_that_is_gone(built, tmp_path):
    """Two identities found to be one person continue under one id: the other id's closed
    memberships stay history; an open membership of an unknown id is still an error."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built["warehouse"], warehouse)
    with connect(warehouse) as con:
        for customer_id, exited_at in (("merged-away", LATEST), ("never-a-customer", None)):
            con.execute(
                "insert into marts.segment_history"
                " select ?, segment, segment_family, entered_at, ?"
                " from marts.segment_history limit 1",
                [customer_id, exited_at],
            )
    results = dbt(
        warehouse, tmp_path, "test", "--select", "segment_history,test_name:relationships",
        expect_success=False,
    )  # fmt: skip
    assert [(r["status"], r["failures"]) for r in results] == [("fail", 1)]


def test_measurement_marts_cover_segments_with_exposure(built):
    warehouse = built["warehouse"]
    ((kpi_rows, segments, windows),) = _rows(
        warehouse,
        "select count(*), count(distinct segment), count(distinct window_days)"
        " from marts.segment_kpis",
    )
    assert (segments, windows) == (19, 2) and kpi_rows == 38
    # Members since July received emails and ordered after some of them.
    ((sends, recipients, converted, open_rate),) = _rows(
        warehouse,
        "select email_sends, recipients, converted_recipients, open_rate from marts.segment_kpis"
        " where segment = 'active' and window_days = 90",
    )
    assert sends >= recipients > converted > 0 and 0 < open_rate < 1
    lifts = _rows(
        warehouse,
        """
        select treated_members, holdout_members, conversion_lift,
            conversion_lift_ci_low, conversion_lift_ci_high
        from marts.holdout_lift where segment = 'active'
        """,
    )
    assert len(lifts) == 2
    for treated, holdout, lift, low, high in lifts:
        assert treated > 5 * holdout > 0
        assert low < lift < high
