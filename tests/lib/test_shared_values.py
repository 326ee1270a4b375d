"""Values shared across stages are defined once: the dbt vars in dbt_project.yml. The Python
defaults (tiers, horizons, snapshot weekday, hyper-parameters) must equal them, and no dbt model
may repeat a declared var's value as a `var(name, default)` fallback. Either drift fails here."""

from __future__ import annotations

import re
from dataclasses import asdict, fields

from pipeline.cli.backtest import parse_args
from pipeline.defs.ml.score import ScoringConfig
from pipeline.defs.ml.train import TrainingConfig
from pipeline.lib.modeling.datasets import HORIZONS
from pipeline.lib.modeling.estimators import ModelParams
from pipeline.lib.modeling.scoring import TierThresholds
from pipeline.lib.modeling.steps import CHAMPION_TOLERANCE
from pipeline.lib.modeling.training_run import RunConfig
from pipeline.lib.settings import PROJECT_ROOT
from pipeline.lib.shared_values import dbt_vars

DBT_DIR = PROJECT_ROOT / "dbt_project"
# var('name', fallback) in Jinja, either quote style; the fallback is anything up to the paren.
VAR_WITH_FALLBACK = re.compile(r"""var\(\s*["'](\w+)["']\s*,""")


def test_score_tiers_start_where_the_segments_start():
    dbt = dbt_vars()
    tiers = TierThresholds()
    assert tiers.churn_high == dbt["segment_churn_high_min_probability"]
    assert tiers.churn_medium == dbt["segment_churn_medium_min_probability"]
    assert tiers.purchase_high == dbt["segment_purchase_high_min_probability"]
    assert tiers.purchase_medium == dbt["segment_purchase_medium_min_probability"]
    scoring = ScoringConfig()
    assert {f.name: getattr(scoring, f.name) for f in fields(TierThresholds)} == asdict(tiers)


def test_horizons_are_the_label_windows_dbt_builds():
    dbt = dbt_vars()
    assert sorted(HORIZONS) == sorted(dbt["label_horizons_days"])
    run = RunConfig()
    assert (run.purchase_horizon, run.churn_horizon, run.cltv_horizon) == (
        dbt["purchase_horizon_days"], dbt["churn_horizon_days"], dbt["cltv_horizon_days"],
    )  # fmt: skip
    training = TrainingConfig()
    assert (
        training.purchase_horizon_days,
        training.churn_horizon_days,
        training.cltv_horizon_days,
    ) == (run.purchase_horizon, run.churn_horizon, run.cltv_horizon)
    backtest = parse_args(["orders.csv", "--as-of", "2024-06-03"])
    assert backtest.horizons == (run.purchase_horizon, run.churn_horizon, run.cltv_horizon)


def test_training_run_config_defaults_are_the_libraries_defaults():
    config = TrainingConfig().run_config()
    assert config.params == ModelParams()
    assert config.max_train_snapshots == RunConfig().max_train_snapshots
    assert config.min_class_examples == RunConfig().min_class_examples
    assert TrainingConfig().champion_tolerance == CHAMPION_TOLERANCE


def test_training_reads_the_snapshot_weekday_dbt_keeps():
    from pipeline.lib.modeling import datasets

    assert dbt_vars()["feature_snapshot_isodow"] == datasets.SNAPSHOT_ISODOW


def test_no_dbt_model_repeats_a_declared_value_as_a_fallback():
    declared = set(dbt_vars())
    sql_files = [*DBT_DIR.glob("models/**/*.sql"), *DBT_DIR.glob("macros/**/*.sql"),
                 *DBT_DIR.glob("tests/**/*.sql")]  # fmt: skip
    assert sql_files
    repeated = sorted(
        f"{path.relative_to(DBT_DIR)}: {name}"
        for path in sql_files
        for name in VAR_WITH_FALLBACK.findall(path.read_text())
        if name in declared
    )
    assert not repeated, f"declared in dbt_project.yml, so use var(name) alone: {repeated}"
