"""Retrain on the browser test's small demo shop, with horizons and class minimums that fit its
180 days of history, so the model run has metrics to show (the product's defaults fall back to
baselines on a history this short, and show decisions only). Recorded in the instance like any
run of `weekly_retrain`."""

import sys

import dagster as dg

from pipeline.definitions import defs

SMALL_SHOP_TRAINING = {
    "purchase_horizon_days": 30,
    "churn_horizon_days": 30,
    "cltv_horizon_days": 30,
    "min_class_examples": 10,
    "fit_btyd_baseline": False,
    "btyd_features": False,
}

if __name__ == "__main__":
    result = defs.resolve_job_def("weekly_retrain").execute_in_process(
        instance=dg.DagsterInstance.get(),
        run_config={"ops": {"ml__model_runs": {"config": SMALL_SHOP_TRAINING}}},
        raise_on_error=False,
    )
    sys.exit(0 if result.success else 1)
