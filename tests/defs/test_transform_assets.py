"""dbt models as Dagster assets: built over the ingested raw tables in one run, tests as checks,
marts filled;
the point-in-time features partitioned by as-of date; a backfill after a data fix equals a
fresh build."""

from __future__ import annotations

import shutil
from datetime import datetime

import dagster as dg
import pytest

from pipeline.defs.partitions import partition_range_tags
from pipeline.defs.transform.dbt import (
    as_of_window_env,
    dbt_model_assets,
    dbt_resource,
    warehouse_target_path,
)
from pipeline.lib.as_of_batches import MAX_ROWS_ENV
from pipeline.lib.ingest.warehouse import connect
from tests.dbt.dbt_helpers import dbt
from tests.defs.ingest_helpers import HISTORY, resources
from tests.instances import product_storage_instance

pytestmark = pytest.mark.integration

MARTS = ("customers", "orders", "customer_features", "customer_labels", "cohorts")
FIXED_FROM = "2024-05-01"  # the day of the corrected order; the backfill starts there


@pytest.fixture(scope="module")
def built(tmp_path_factory, raw_warehouse):
    """Every dbt step over the whole history in one run (the setups and the demo run ingest and
    dbt together end to end)."""
    root = tmp_path_factory.mktemp("transform")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(raw_warehouse, warehouse)
    with product_storage_instance() as instance:
        result = dg.materialize(
            dbt_model_assets,
            resources={**resources("http://127.0.0.1:9", warehouse), "dbt": dbt_resource()},
            tags=partition_range_tags(*HISTORY),
            instance=instance,
        )
    return root, warehouse, result


def _marts(warehouse) -> dict[str, list[tuple]]:
    with connect(warehouse, read_only=True) as con:
        return {m: con.execute(f"select * from marts.{m} order by all").fetchall() for m in MARTS}


def test_dbt_in_one_run_builds_tested_marts(built):
    _, warehouse, result = built
    assert result.success
    materialized = {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }
    assert {"customers", "orders", "stg_shopify__orders", "customer_features"} <= {
        k.split("/")[-1] for k in materialized
    }
    checks = result.get_asset_check_evaluations()
    assert checks
    # Only warnings may fail: small segments in a small store without scores.
    failed = [check for check in checks if not check.passed]
    assert all(
        check.severity == dg.AssetCheckSeverity.WARN
        and check.check_name.startswith("segments_meet_min_size")
        for check in failed
    ), [check.check_name for check in failed]
    with connect(warehouse, read_only=True) as con:
        customers, dates = con.execute(
            "select (select count(*) from marts.customers),"
            " (select count(distinct as_of_date) from marts.customer_features)"
        ).fetchone()
    assert customers > 0
    assert dates > 28  # the last four weeks daily, weekly snapshots before


def test_dbt_tables_carry_row_counts_and_column_types(built):
    _, warehouse, result = built
    metadata = {
        e.event_specific_data.materialization.asset_key.to_user_string(): (
            e.event_specific_data.materialization.metadata
        )
        for e in result.get_asset_materialization_events()
    }
    customers = metadata["marts/customers"]
    with connect(warehouse, read_only=True) as con:
        (rows,) = con.execute("select count(*) from marts.customers").fetchone()
    assert customers["dagster/row_count"].value == rows
    columns = {c.name: c.type for c in customers["dagster/column_schema"].value.columns}
    assert columns["customer_id"] and columns["as_of_date"].lower() == "date"


def test_dbt_steps_on_one_warehouse_parse_the_project_once(built, tmp_path):
    _, warehouse, _ = built
    log = (warehouse_target_path(warehouse) / "dbt.log").read_text()
    # Four dbt steps ran on this warehouse; only the first parsed the whole project (its
    # profile names this warehouse, unlike the parse `make setup` left).
    assert log.count("Running with dbt=") == 4
    assert log.count("Unable to do partial parsing") == 1
    assert warehouse_target_path(warehouse) != warehouse_target_path(tmp_path / "other.duckdb")


def test_a_partition_maps_to_the_as_of_date_after_its_day():
    history_start = datetime(2024, 1, 1)
    day = as_of_window_env(datetime(2024, 5, 1), datetime(2024, 5, 2), history_start)
    assert day == {"FORESIGHT_AS_OF_FROM": "2024-05-02", "FORESIGHT_AS_OF_TO": "2024-05-02"}
    first = as_of_window_env(history_start, datetime(2024, 1, 2), history_start)
    assert first == {"FORESIGHT_AS_OF_TO": "2024-01-02"}  # and every as-of date before it


def test_backfill_after_a_data_fix_equals_a_fresh_build(built, monkeypatch):
    root, warehouse, _ = built
    fixed = root / "fixed.duckdb"
    shutil.copy(warehouse, fixed)
    with connect(fixed) as con:
        # a corrected order total arrives for an order placed on FIXED_FROM
        (changed,) = con.execute(
            "update raw_shopify.orders set total = total + 100 where id = ("
            " select min(id) from raw_shopify.orders"
            " where cast(created_at as date) = ? and not coalesce(test, false))",
            [FIXED_FROM],
        ).fetchone()
    assert changed == 1
    fresh = root / "fresh.duckdb"
    shutil.copy(fixed, fresh)
    # The backfill builds its features in batches of dates (a large shop's full rebuild would
    # not fit in memory at once), the fresh build in one pass: the same table either way.
    with connect(fixed, read_only=True) as con:
        (rows,) = con.execute(
            "select sum(customers_known) from intermediate.int_feature_as_of_dates"
            " where as_of_date > ?",
            [FIXED_FROM],
        ).fetchone()
    monkeypatch.setenv(MAX_ROWS_ENV, str(rows // 3))
    with product_storage_instance() as instance:
        backfill = dg.materialize(
            dbt_model_assets,
            resources={**resources("http://127.0.0.1:9", fixed), "dbt": dbt_resource()},
            tags=partition_range_tags(FIXED_FROM, HISTORY[1]),
            selection=dg.AssetSelection.all() - dg.AssetSelection.groups("ingest"),
            instance=instance,
        )
    assert backfill.success
    log = (warehouse_target_path(fixed) / "dbt.log").read_text()
    # core, at least three feature batches, feature readers, score readers
    assert log.count("Running with dbt=") >= 6
    # Models only: the backfill ran the data tests, and the marts are what is compared.
    dbt(fresh, root / "fresh", "run", "--full-refresh")
    after_backfill, after_fresh = _marts(fixed), _marts(fresh)
    before = _marts(warehouse)
    assert after_backfill["customer_features"] != before["customer_features"]  # the fix shows
    for mart in MARTS:
        assert after_backfill[mart] == after_fresh[mart], mart
