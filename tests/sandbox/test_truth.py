"""The truth export: computed from traits at `now`, and confirmed by what a later clock reveals."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow.parquet as pq

from sandbox.shop.store import StoreView
from sandbox.shop.store_tables import CUSTOMER_ID_BASE, DUPLICATE_ID_BASE
from sandbox.shop.truth import truth_frame, write_truth
from tests.conftest import SMALL_STORE

EARLY, LATE = datetime(2024, 4, 1), datetime(2024, 8, 29)


def test_truth_agrees_with_what_a_later_clock_reveals(small_store_path):
    early = StoreView(small_store_path, EARLY)
    late = StoreView(small_store_path, LATE)
    truth = truth_frame(early).set_index("customer_id")
    # Orders on a duplicate account belong to the person's primary customer id.
    primary_id = f"o.customer_id - (o.customer_id >= {DUPLICATE_ID_BASE})::int * " + str(
        DUPLICATE_ID_BASE - CUSTOMER_ID_BASE
    )
    with late.cursor() as cur:
        revealed = (
            cur.execute(
                f"""select {primary_id} as customer_id,
                       count(*) filter (where created_at < ?::timestamp + interval 30 day) as n30,
                       count(*) filter (where created_at < ?::timestamp + interval 90 day) as n90
                    from v_orders o
                    where not test and created_at >= ?
                    group by 1""",
                [EARLY, EARLY, EARLY],
            )
            .df()
            .set_index("customer_id")
        )
    joined = truth.join(revealed, how="left").fillna({"n30": 0, "n90": 0})
    assert (joined["actual_orders_30"] == joined["n30"]).all()
    assert (joined["actual_orders_90"] == joined["n90"]).all()
    assert joined["actual_orders_90"].sum() > 0


def test_truth_probabilities_are_calibrated_against_realised_orders(small_store_path):
    # At the end of the history: the simulation covers the whole 365-day horizon after it.
    view = StoreView(small_store_path, datetime.combine(SMALL_STORE.end, datetime.min.time()))
    truth = truth_frame(view)
    view.close()
    bins = pd.qcut(truth["p_order_30"], 4, duplicates="drop")
    by_bin = truth.groupby(bins, observed=True).agg(
        predicted=("p_order_30", "mean"), realised=("actual_orders_30", lambda s: (s > 0).mean())
    )
    assert (abs(by_bin["predicted"] - by_bin["realised"]) < 0.12).all()
    assert abs(truth["expected_purchases_365"].sum() / truth["actual_orders_365"].sum() - 1) < 0.2
    assert truth["p_alive"].between(0, 1).all()
    assert truth["customer_id"].is_unique


def test_truth_order_value_matches_the_simulators_pricing(small_store_path):
    # Whole units at catalogue prices lift cheap draws above the drawn mean (about 13% in total):
    # the truth's revenue per order must follow the realised orders, not the drawn mean.
    view = StoreView(small_store_path, datetime.combine(SMALL_STORE.end, datetime.min.time()))
    truth = truth_frame(view)
    view.close()
    expected = truth["expected_revenue_365"].sum() / truth["expected_purchases_365"].sum()
    realised = truth["actual_revenue_365"].sum() / truth["actual_orders_365"].sum()
    assert abs(expected / realised - 1) < 0.08
    assert truth["expected_order_value"].notna().all()


def test_truth_parquet_has_one_row_per_known_customer(small_store_view, tmp_path):
    out = tmp_path / "truth.parquet"
    rows = write_truth(small_store_view, str(out))
    table = pq.read_table(out)
    assert table.num_rows == rows > 0
    assert {"email", "p_alive", "p_order_30", "p_no_order_90", "actual_revenue_365"} <= set(
        table.column_names
    )
