"""dbt killed mid-model (SIGKILL, as the OS kills a run): once while the core marts are rebuilt
(a table model), once while the incremental `marts.customer_features` writes its as-of dates.
The killed warehouse reopens, and re-running the step converges to the warehouse an
uninterrupted build gives: every dbt-built table equal row for row, no duplicate rows."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from tests.dbt.dbt_helpers import dbt, dbt_build, unexpected_statuses
from tests.faults.dbt_crash import build_killed, differences

pytestmark = pytest.mark.integration
CORE, FEATURES = "core_models", "customer_features"


def build(warehouse, work, selector: str) -> None:
    # The product's selectors, which leave out the unit tests as its runs do.
    results = dbt_build(warehouse, work, "--selector", selector)
    assert unexpected_statuses(results) == []


@pytest.fixture(scope="module")
def reference(raw_warehouse, tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(raw_warehouse, warehouse)
    # Models only: the tables are what is compared, and the session's first build tests them.
    for selector in (CORE, FEATURES):
        results = dbt(warehouse, root / "dbt", "run", "--selector", selector)
        assert unexpected_statuses(results) == []
    return warehouse


def test_dbt_killed_mid_model_then_rerun_equals_an_uninterrupted_build(
    raw_warehouse, reference, tmp_path
):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(raw_warehouse, warehouse)
    assert build_killed(warehouse, tmp_path / "killed-core", CORE, "marts.customers", 0.5)
    build(warehouse, tmp_path / "dbt", CORE)
    assert build_killed(
        warehouse, tmp_path / "killed-features", FEATURES, "marts.customer_features", 0.3
    )
    with duckdb.connect(str(warehouse)) as con:  # the killed file opens again
        con.execute("checkpoint")
    build(warehouse, tmp_path / "dbt", FEATURES)
    assert differences(warehouse, reference) == {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (duplicated,) = con.execute(
            "select count(*) - count(distinct (customer_id, as_of_date)) "
            "from marts.customer_features"
        ).fetchone()
    assert duplicated == 0
