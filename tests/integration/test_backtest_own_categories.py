"""A shop with its own categories (shoes, shirts, bags, hats), backtested on a day that is not a
snapshot weekday: dbt, training and scoring run end to end and segments carry its names."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd

from pipeline.cli import backtest
from tests.dbt.dbt_helpers import dbt_build, unexpected_statuses
from tests.integration.test_backtest import export_orders

AS_OF = date(2024, 7, 3)  # a Wednesday; the store's history ends on 2024-08-28
OWN_CATEGORIES = {"coffee": "shoes", "tea": "shirts", "equipment": "bags", "gifts": "hats"}


def test_a_shop_with_its_own_categories_runs_end_to_end(tmp_path, small_store_view, capsys):
    csv = tmp_path / "orders.csv"
    export_orders(small_store_view, csv)
    orders = pd.read_csv(csv)
    orders["category"] = orders["category"].map(OWN_CATEGORIES)
    orders.to_csv(csv, index=False)
    out = tmp_path / "backtest"

    assert backtest.main([str(csv), "--as-of", str(AS_OF), "--out", str(out)]) == 0

    evaluation = json.loads((out / "evaluation" / "evaluation.json").read_text())
    assert evaluation["as_of_date"] == str(AS_OF)
    assert evaluation["tasks"]["purchase"]["window"] == {"from": "2024-07-03", "to": "2024-08-01"}
    category = evaluation["tasks"]["category"]
    assert category["evaluated"], category
    assert category["window"] == {"from": "2024-07-03", "to": "2024-08-28"}
    assert "2024-07-03..2024-08-01" in capsys.readouterr().out
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as con:
        ranked = con.execute("select category from marts.shop_categories order by 1").fetchall()
        assert [c for (c,) in ranked] == sorted(OWN_CATEGORIES.values())
        best = con.execute("select distinct next_best_category from ml.customer_scores").fetchall()
        assert {c for (c,) in best} - {None} <= {*OWN_CATEGORIES.values(), "other"}

    selection = ("--select", "source:ml+",
                 "--exclude", "resource_type:unit_test", "resource_type:exposure")  # fmt: skip
    results = dbt_build(out / "warehouse.duckdb", tmp_path / "segments", *selection)
    assert not unexpected_statuses(results)
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as con:
        segments = con.execute(
            "select segment, segment_family from marts.customer_segments "
            "where segment like '%_lovers' group by all"
        ).fetchall()
    assert {"shoes_lovers", "shirts_lovers"} <= {segment for segment, _ in segments}
    assert {family for _, family in segments} == {"category"}
