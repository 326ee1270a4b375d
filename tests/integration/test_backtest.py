"""The CSV backtest recipe end to end on the small sandbox store's order history."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from pipeline.cli import backtest
from sandbox.shop.store import StoreView

AS_OF = date(2024, 7, 1)  # a Monday; the store's history ends on 2024-08-28


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


def test_backtest_writes_its_evaluation(tmp_path, small_store_view, capsys):
    csv = tmp_path / "orders.csv"
    orders = export_orders(small_store_view, csv)
    out = tmp_path / "backtest"

    assert backtest.main([str(csv), "--as-of", str(AS_OF), "--out", str(out)]) == 0

    evaluation = json.loads((out / "evaluation" / "evaluation.json").read_text())
    assert evaluation["orders_loaded"] == orders
    assert evaluation["as_of_date"] == str(AS_OF)
    tasks = evaluation["tasks"]
    # 30 days after AS_OF are in the CSV: purchase propensity is judged on every customer.
    purchase = tasks["purchase"]
    assert purchase["evaluated"]
    assert purchase["scored_by"] in {"lightgbm", "rf_logistic", "btyd", "rules"}
    scores = purchase["metrics"]["scores"]
    assert scores["n"] == evaluation["customers_scored"]
    assert 0.5 < scores["roc_auc"] <= 1
    assert 0 < scores["base_rate"] < 1
    assert "rfm_rules" in purchase["metrics"]
    # 90 and 365 days after AS_OF are not: said so, not silently dropped.
    for name in ("churn", "cltv"):
        assert not tasks[name]["evaluated"]
        assert "covers days before 2024-08-29" in tasks[name]["reason"]
    assert (out / "evaluation" / "report.html").stat().st_size > 1000
    assert (out / "evaluation" / "purchase_calibration.png").exists()
    printed = capsys.readouterr().out
    assert "purchase" in printed and "not evaluated" in printed
    # The main warehouse is never touched: everything is under the backtest folder.
    assert (out / "warehouse.duckdb").exists()
