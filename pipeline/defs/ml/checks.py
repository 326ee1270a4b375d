"""Blocking checks on the latest scoring day of `ml/customer_scores`: scores that fail never
reach segments or syncs."""

import dagster as dg

from pipeline.defs.resources import WarehouseResource
from pipeline.lib.alerts.rules import quality_drops
from pipeline.lib.modeling import quality

SCORES = dg.AssetKey(["ml", "customer_scores"])
MODEL_RUNS = dg.AssetKey(["ml", "model_runs"])


class ShiftCheckConfig(dg.Config):
    psi_threshold: float = 0.25
    """Above 0.25 PSI is conventionally a major shift in a score's distribution."""


def _latest(con):
    (as_of,) = con.execute("select max(as_of_date) from ml.customer_scores").fetchone()
    return as_of


def _result(passed: bool, numbers: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=passed, metadata=numbers)


@dg.asset_check(asset=SCORES, blocking=True, pool="duckdb")
def scores_in_range(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Probabilities within [0, 1], CLTV and its range non-negative, p10 ≤ p90."""
    with warehouse.connect(read_only=True) as con:
        return _result(*quality.scores_in_range(con, _latest(con)))


@dg.asset_check(asset=SCORES, blocking=True, pool="duckdb")
def scores_not_null(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every required score is present, and every customer with an order has a churn score."""
    with warehouse.connect(read_only=True) as con:
        return _result(*quality.scores_not_null(con, _latest(con)))


@dg.asset_check(asset=SCORES, blocking=True, pool="duckdb")
def one_score_row_per_customer(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Exactly one row per customer of the features as of the scoring day."""
    with warehouse.connect(read_only=True) as con:
        return _result(*quality.one_row_per_customer(con, _latest(con)))


@dg.asset_check(asset=SCORES, blocking=True, pool="duckdb")
def score_shift_within_limit(
    config: ShiftCheckConfig, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Population stability index of each probability against the previous scoring day."""
    with warehouse.connect(read_only=True) as con:
        return _result(*quality.score_shift(con, _latest(con), config.psi_threshold))


class QualityDropConfig(dg.Config):
    tolerance: float = 0.05
    """A champion this much (relative) worse than the model before it on its primary metric."""


@dg.asset_check(asset=MODEL_RUNS, pool="duckdb")
def promoted_model_quality_holds(
    config: QualityDropConfig, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Each task's champion against the model trained before it: warns (and alerts) on a drop."""
    with warehouse.connect(read_only=True) as con:
        drops = quality_drops(con, config.tolerance)
    return dg.AssetCheckResult(
        passed=not drops,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"findings": "\n".join(drops) or "none", "tasks_dropped": len(drops)},
    )


score_checks = [scores_in_range, scores_not_null, one_score_row_per_customer,
                score_shift_within_limit, promoted_model_quality_holds]  # fmt: skip
