"""The ml assets in a Dagster run: train → score → blocking checks, with plots in metadata.

Runs on a warehouse holding contract-shaped feature and label marts (synthetic, seeded).
"""

import dagster as dg
import duckdb
import pytest

from pipeline.defs.ml.checks import score_checks
from pipeline.defs.ml.score import customer_scores
from pipeline.defs.ml.train import model_runs
from pipeline.defs.resources import WarehouseResource
from pipeline.lib.modeling.datasets import LABEL_COLUMNS
from tests.lib.modeling.synthetic import synthetic_frame

TRAINING = {"cltv_horizon_days": 90, "n_estimators": 40, "learning_rate": 0.15,
            "max_train_snapshots": 6, "fit_btyd_baseline": False}  # fmt: skip


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("FORESIGHT_ARTEFACTS_DIR", str(tmp_path / "artefacts"))
    frame = synthetic_frame(customers=600, weeks=34, seed=5)
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.register("frame", frame.assign(as_of_date=frame["as_of_date"].dt.date))
        labels = ", ".join(LABEL_COLUMNS)
        con.execute(
            f"create table marts.customer_features as select * exclude ({labels}) from frame"
        )
        con.execute(
            f"create table marts.customer_labels as select customer_id, as_of_date, {labels}"
            " from frame"
        )
    return path


def test_weekly_retrain_trains_scores_and_passes_the_blocking_checks(warehouse, tmp_path):
    result = dg.materialize(
        [model_runs, customer_scores, *score_checks],
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        run_config={"ops": {"ml__model_runs": {"config": TRAINING}}},
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 4 and all(c.passed for c in checks)
    [training] = [
        e.materialization for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == dg.AssetKey(["ml", "model_runs"])
    ]  # fmt: skip
    plots = [k for k, v in training.metadata.items() if k.startswith("plot_")]
    assert "plot_churn_calibration" in plots
    assert training.metadata["plot_churn_calibration"].value.startswith("![")
    assert "promoted" in training.metadata["purchase_decision"].value
    assert (tmp_path / "artefacts" / "models").is_dir()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows, customers = con.execute(
            "select count(*), count(distinct customer_id) from ml.customer_scores"
        ).fetchone()
    assert rows == customers == 600
