"""Weekly training: LightGBM models, their baselines, evaluation and the registry.

Grain of `ml/model_runs`: one row per (model_version, task). Logic lives in
`pipeline.lib.modeling.steps`; this module maps run config to it and shows the results.
"""

from datetime import date

import dagster as dg

from pipeline.defs.ml.metadata import model_run_metadata
from pipeline.defs.resources import WarehouseResource
from pipeline.lib.modeling.estimators import ModelParams
from pipeline.lib.modeling.steps import CHAMPION_TOLERANCE, train_and_register
from pipeline.lib.modeling.training_run import RunConfig
from pipeline.lib.reporting.model_runs import champions
from pipeline.lib.reporting.plots import markdown_image
from pipeline.lib.settings import artefacts_dir

OWNERS = ["team:data"]
FEATURES = dg.AssetKey(["marts", "customer_features"])
LABELS = dg.AssetKey(["marts", "customer_labels"])


class TrainingConfig(dg.Config):
    """Run config of a training run; the defaults are the product's."""

    as_of_date: str | None = None
    """Train as the shop stood on this day (YYYY-MM-DD); default: the latest feature day."""
    purchase_horizon_days: int = RunConfig.purchase_horizon
    churn_horizon_days: int = RunConfig.churn_horizon
    cltv_horizon_days: int = RunConfig.cltv_horizon
    seed: int = ModelParams.seed
    num_leaves: int = ModelParams.num_leaves
    max_depth: int = ModelParams.max_depth
    """Shallow trees keep per-customer reasons (TreeSHAP) affordable at a million customers."""
    learning_rate: float = ModelParams.learning_rate
    n_estimators: int = ModelParams.n_estimators
    min_child_samples: int = ModelParams.min_child_samples
    max_train_snapshots: int = RunConfig.max_train_snapshots
    min_class_examples: int = RunConfig.min_class_examples
    """Fewer training examples in a label class than this: the task falls back to BTYD/rules."""
    champion_tolerance: float = CHAMPION_TOLERANCE
    """A challenger may be this much (relative) worse than the champion and still replace it."""
    fit_btyd_baseline: bool = True
    btyd_features: bool = RunConfig.btyd_features
    """BG/NBD + Gamma-Gamma outputs (P(alive), expected orders) as LightGBM inputs."""

    def run_config(self) -> RunConfig:
        return RunConfig(
            purchase_horizon=self.purchase_horizon_days,
            churn_horizon=self.churn_horizon_days,
            cltv_horizon=self.cltv_horizon_days,
            params=ModelParams(
                num_leaves=self.num_leaves,
                max_depth=self.max_depth,
                learning_rate=self.learning_rate,
                n_estimators=self.n_estimators,
                min_child_samples=self.min_child_samples,
                seed=self.seed,
            ),
            max_train_snapshots=self.max_train_snapshots,
            min_class_examples=self.min_class_examples,
            fit_btyd=self.fit_btyd_baseline,
            btyd_features=self.btyd_features,
        )


@dg.asset(
    key=["ml", "model_runs"],
    deps=[FEATURES, LABELS],
    group_name="ml",
    kinds={"lightgbm", "duckdb"},
    owners=OWNERS,
    pool="duckdb",
)
def model_runs(
    context: dg.AssetExecutionContext, config: TrainingConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Trains churn, purchase propensity, CLTV (p10–p90) and next-category models on the feature
    snapshots with a rolling-origin time split, measures them and their baselines on the latest
    fully-labelled snapshot, and promotes each only if it beats its baselines and is not
    materially worse than the champion; otherwise the champion keeps serving while it still
    beats every baseline, else the run's best baseline serves. One registry row per
    (model_version, task)."""
    as_of = date.fromisoformat(config.as_of_date) if config.as_of_date else None
    with warehouse.connect() as con:
        champions_before = champions(con)
        summary = train_and_register(
            con, config.run_config(), artefacts_dir(), as_of, config.champion_tolerance
        )
        tables = model_run_metadata(con, summary.version, champions_before)
    metadata: dict = {
        "model_version": summary.version,
        "as_of_date": str(summary.as_of),
        "training_seconds": round(summary.seconds, 1),
        "report": dg.MetadataValue.path(str(summary.report_path)),
        "open_report": dg.MetadataValue.url(summary.report_path.resolve().as_uri()),
        **tables,
    }
    for name, png in summary.plots.items():
        metadata[f"plot_{name}"] = dg.MetadataValue.md(markdown_image(png, name))
    context.log.info(
        "model run %s: %s", summary.version, {r["task"]: r["decision"] for r in summary.rows}
    )
    return dg.MaterializeResult(metadata=metadata)
