"""Daily scoring: `ml/customer_scores`, one row per (customer_id, as_of_date)."""

from datetime import date

import dagster as dg

from pipeline.defs.ml.train import FEATURES, OWNERS
from pipeline.defs.resources import WarehouseResource
from pipeline.lib.modeling.scoring import TierThresholds
from pipeline.lib.modeling.steps import score_and_write


class ScoringConfig(dg.Config):
    """Which day to score and where the tiers start."""

    as_of_date: str | None = None
    """Score the shop as it stood on this day (YYYY-MM-DD); default: the latest feature day."""
    churn_high: float = TierThresholds.churn_high
    churn_medium: float = TierThresholds.churn_medium
    purchase_high: float = TierThresholds.purchase_high
    purchase_medium: float = TierThresholds.purchase_medium
    cltv_high_quantile: float = TierThresholds.cltv_high_quantile
    cltv_medium_quantile: float = TierThresholds.cltv_medium_quantile


@dg.asset(
    key=["ml", "customer_scores"],
    deps=[FEATURES, dg.AssetKey(["ml", "model_runs"])],
    group_name="ml",
    kinds={"lightgbm", "duckdb"},
    owners=OWNERS,
    pool="duckdb",
)
def customer_scores(config: ScoringConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Churn and purchase probabilities, CLTV with its p10–p90 range, tiers, next best
    category, expected next order date and the top three reasons per score, for every customer
    as of a day, from the champion models (BTYD or RFM rules where there is none). One row per
    (customer_id, as_of_date); re-scoring a day replaces it."""
    thresholds = TierThresholds(
        churn_high=config.churn_high, churn_medium=config.churn_medium,
        purchase_high=config.purchase_high, purchase_medium=config.purchase_medium,
        cltv_high_quantile=config.cltv_high_quantile,
        cltv_medium_quantile=config.cltv_medium_quantile,
    )  # fmt: skip
    as_of = date.fromisoformat(config.as_of_date) if config.as_of_date else None
    with warehouse.connect() as con:
        summary = score_and_write(con, thresholds, as_of)
        tiers = con.execute(
            "select churn_tier, purchase_tier, count(*) from ml.customer_scores"
            " where as_of_date = ? group by all order by all",
            [summary.as_of],
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "as_of_date": str(summary.as_of),
            "rows": summary.rows,
            "model_version": summary.model_version,
            "score_sources": dg.MetadataValue.json(summary.sources),
            "purchase_psi_vs_previous": summary.purchase_psi,
            "tiers": dg.MetadataValue.md(
                "| churn | purchase | customers |\n|---|---|---|\n"
                + "\n".join(f"| {c} | {p} | {n} |" for c, p, n in tiers)
            ),
        }
    )
