"""Shop shapes: each a different kind of shop, deterministic, with its truth and its order CSV."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline.lib.ingest.csv_orders import read_order_csv
from sandbox.__main__ import main
from sandbox.shop import behaviour
from sandbox.shop.catalogue import build_catalogue
from sandbox.shop.shapes import SHAPES
from sandbox.shop.simulator import StoreSpec, ensure_store, generate_store

# Stores in these tests are short (90 days) so that generating one takes about a second.
STORE_ARGS = ["--customers", "300", "--days", "90", "--seed", "4"]


def _spec(shape: str) -> StoreSpec:
    return StoreSpec(shape=shape, seed=4, customers=300, days=90)


def _frame(path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).df()


def _people_and_orders(shape_name: str, n: int = 4000):
    """Traits and orders of `n` people of a shape over its history (no store file)."""
    shape = SHAPES[shape_name]
    rng = np.random.default_rng(11)
    catalogue = build_catalogue(rng, shape)
    start = np.datetime64("2024-01-01", "s")
    people = behaviour.draw_people(rng, 0, n, shape.default_days, start, shape, catalogue)
    orders = behaviour.draw_orders(rng, people, shape.default_days, shape.gap_regularity)
    return people, orders


def test_default_shape_keeps_the_store_name_and_meta_it_had_before_shapes():
    spec = StoreSpec(seed=1, customers=10, start=date(2024, 1, 1), days=30)
    assert spec.file_name() == "store-v1-seed1-n10-2024-01-01-d30-dirt0.02.duckdb"
    assert "shape" not in spec.fields()
    assert StoreSpec(**{**spec.fields(), "shape": "fashion"}).file_name() != spec.file_name()


def test_unknown_shape_is_refused_with_the_known_ones(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--shape", "bakery", "--data-dir", str(tmp_path)])
    assert "fashion" in capsys.readouterr().err


def test_a_shape_is_a_pure_function_of_its_spec_and_sells_its_own_categories(tmp_path):
    first = ensure_store(_spec("fashion"), tmp_path)
    generate_store(_spec("fashion"), tmp_path / "again.duckdb")
    sql = "select order_id, customer_id, created_at, total_price from orders order by order_id"
    pd.testing.assert_frame_equal(_frame(first, sql), _frame(tmp_path / "again.duckdb", sql))
    types = set(_frame(first, "select distinct product_type from products")["product_type"])
    assert types == set(SHAPES["fashion"].category_names)
    assert len(types) in range(6, 13)
    spec = json.loads(_frame(first, "select value from meta where key = 'spec'")["value"][0])
    assert spec["shape"] == "fashion"


def test_repeat_and_rhythm_differ_the_way_the_shapes_say():
    repeat, regularity = {}, {}
    for name in ("default", "replenishment", "fashion"):
        _, orders = _people_and_orders(name)
        per_person = orders.groupby("person_index")["t"]
        repeat[name] = (per_person.size() > 1).mean()
        gaps = per_person.diff().dropna().groupby(orders["person_index"])
        regularity[name] = (gaps.std() / gaps.mean()).median()
    assert repeat["replenishment"] > repeat["default"] > repeat["fashion"]
    assert regularity["replenishment"] < 0.7 < regularity["default"]


def test_whales_are_a_few_very_large_buyers():
    def top_share(name: str) -> float:
        people, _ = _people_and_orders(name)
        value = np.sort(SHAPES[name].spend_shape / people["spend_rate"].to_numpy())[::-1]
        return value[: len(value) // 100].sum() / value.sum()

    assert top_share("whales") > 2 * top_share("default")


def test_single_cohort_shop_signs_everyone_up_early_and_has_no_email_or_site_data(tmp_path):
    people, _ = _people_and_orders("csv_cohort")
    assert people["signup_t"].max() < SHAPES["csv_cohort"].cohort_days
    store = ensure_store(_spec("csv_cohort"), tmp_path)
    for table in ("events", "consent_changes", "checkouts"):
        assert _frame(store, f"select count(*) as n from {table}")["n"][0] == 0
    assert _frame(store, "select count(*) as n from orders")["n"][0] > 0
    assert SHAPES["young"].default_days == 120


@pytest.mark.parametrize("shape", ["fashion", "csv_cohort"])
def test_export_csv_writes_the_order_history_the_product_imports(tmp_path, capsys, shape):
    out = tmp_path / "orders.csv"
    code = main(["export-csv", "--shape", shape, *STORE_ARGS, "--data-dir", str(tmp_path),
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    records = list(read_order_csv(out))
    assert f"wrote {len(records)} orders placed before 2024-03-31" in capsys.readouterr().out
    orders = _frame(ensure_store(_spec(shape), tmp_path / "stores"), "select * from orders")
    assert len(records) == (~orders["test"] & (orders["created_at"] < "2024-03-31")).sum()
    assert {record["currency"] for record in records} == {SHAPES[shape].currency}
    categories = {record.get("category") for record in records}
    expected = set(SHAPES[shape].category_names) if shape == "fashion" else {None}
    assert categories == expected


def test_truth_names_each_customers_top_category_from_the_shapes_own_set(tmp_path):
    out = tmp_path / "truth.parquet"
    code = main(["truth", "--shape", "replenishment", *STORE_ARGS, "--data-dir", str(tmp_path),
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    truth = pd.read_parquet(out)
    assert set(truth["top_category"]) <= set(SHAPES["replenishment"].category_names)
    assert truth["p_order_30"].between(0, 1).all() and truth["p_alive"].between(0, 1).all()
    assert {f"taste_{name}" for name in SHAPES["replenishment"].category_names} <= set(truth)
