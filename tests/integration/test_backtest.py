"""The CSV backtest recipe end to end on the small sandbox store's order history, as a shop with
its own categories (shoes, shirts, bags, hats) exports it, backtested on a day that is not a
snapshot weekday: dbt, training, scoring and evaluation run end to end, each task is judged on
the window it states or says why it is not, and segments carry the shop's category names."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.cli import backtest
from sandbox.shop.store import StoreView
from tests.dbt.dbt_helpers import dbt_build, unexpected_statuses

AS_OF = date(2024, 7, 3)  # a Wednesday; the store's history ends on 2024-08-28
OWN_CATEGORIES = {"coffee": "shoes", "tea": "shirts", "equipment": "bags", "gifts": "hats"}


def export_orders(store: StoreView, path: Path) -> int:
    """The store's orders as a legacy-system CSV (one row per order, the first line's product
    and its type as the category); returns the number of rows."""
    with store.cursor() as cur:
        rows = cur.execute(
            """select o.customer_id, strftime(o.created_at, '%Y-%m-%d %H:%M:%S') as ordered_at,
                o.total_price as total, o.email, first(l.title order by l.line_id) as product,
                first(p.product_type order by l.line_id) as category
            from v_orders as o
            inner join v_order_lines as l using (order_id)
            inner join v_products as p using (product_id)
            where not o.test
            group by o.order_id, o.customer_id, o.created_at, o.total_price, o.email
            order by o.created_at, o.order_id"""
        ).df()
    rows.to_csv(path, index=False)
    return len(rows)


def test_a_backtest_on_any_day_judges_each_task_and_names_the_shops_categories(
    tmp_path, small_store_view, capsys
):
    csv = tmp_path / "orders.csv"
    orders = export_orders(small_store_view, csv)
    exported = pd.read_csv(csv)
    exported["category"] = exported["category"].map(OWN_CATEGORIES)
    exported.to_csv(csv, index=False)
    out = tmp_path / "backtest"

    assert backtest.main([str(csv), "--as-of", str(AS_OF), "--out", str(out)]) == 0

    evaluation = json.loads((out / "evaluation" / "evaluation.json").read_text())
    assert evaluation["orders_loaded"] == orders
    assert evaluation["as_of_date"] == str(AS_OF)
    tasks = evaluation["tasks"]
    # 30 days after AS_OF are in the CSV: purchase propensity is judged on every customer.
    purchase = tasks["purchase"]
    assert purchase["evaluated"]
    assert purchase["window"] == {"from": "2024-07-03", "to": "2024-08-01"}
    assert purchase["scored_by"] in {"lightgbm", "rf_logistic", "btyd", "rules"}
    scores = purchase["metrics"]["scores"]
    assert scores["n"] == evaluation["customers_scored"]
    assert 0.5 < scores["roc_auc"] <= 1
    assert 0 < scores["base_rate"] < 1
    assert "rfm_rules" in purchase["metrics"]
    category = tasks["category"]
    assert category["evaluated"], category
    assert category["window"] == {"from": "2024-07-03", "to": "2024-08-28"}
    # 90 and 365 days after AS_OF are not: said so, not silently dropped.
    for name in ("churn", "cltv"):
        assert not tasks[name]["evaluated"]
        assert "covers days before 2024-08-29" in tasks[name]["reason"]
    assert (out / "evaluation" / "report.html").stat().st_size > 1000
    assert (out / "evaluation" / "purchase_calibration.png").exists()
    printed = capsys.readouterr().out
    assert "purchase" in printed and "not evaluated" in printed
    assert "2024-07-03..2024-08-01" in printed
    # The main warehouse is never touched: everything is under the backtest folder.
    warehouse = out / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ranked = con.execute("select category from marts.shop_categories order by 1").fetchall()
        assert [c for (c,) in ranked] == sorted(OWN_CATEGORIES.values())
        best = con.execute("select distinct next_best_category from ml.customer_scores").fetchall()
        assert {c for (c,) in best} - {None} <= {*OWN_CATEGORIES.values(), "other"}

    selection = ("--select", "source:ml+",
                 "--exclude", "resource_type:unit_test", "resource_type:exposure")  # fmt: skip
    results = dbt_build(warehouse, tmp_path / "segments", *selection)
    assert not unexpected_statuses(results)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        segments = con.execute(
            "select segment, segment_family from marts.customer_segments "
            "where segment like '%_lovers' group by all"
        ).fetchall()
    assert {"shoes_lovers", "shirts_lovers"} <= {segment for segment, _ in segments}
    assert {family for _, family in segments} == {"category"}
