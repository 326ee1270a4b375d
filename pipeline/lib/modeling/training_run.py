"""One training run: for each task, split by time, fit LightGBM and its baselines on the same
rows, and measure all of them on the held-out test snapshots.

A task falls back to BTYD/rules for scoring (no LightGBM model) when its history is shorter than
the horizon plus two snapshots, or when a class of its label has fewer than
`min_class_examples` training rows (for the category, when fewer than two categories have that
many, or the data names no categories); the run records why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.lib.modeling.baselines import Btyd, RecencyFrequencyLogistic, RunRate
from pipeline.lib.modeling.categories import frame_categories
from pipeline.lib.modeling.datasets import (
    TimeSplit,
    check_horizon,
    labelled_snapshots,
    subset,
    time_split,
)
from pipeline.lib.modeling.estimators import ModelParams, TrainedModel
from pipeline.lib.modeling.evaluate import amount_metrics, classification_metrics, interval_coverage
from pipeline.lib.modeling.fitting import fit_model
from pipeline.lib.modeling.next_order_date import expected_days_to_next_order, typical_gap
from pipeline.lib.modeling.tasks import Task, tasks
from pipeline.lib.shared_values import (
    CHURN_HORIZON_DAYS,
    CLTV_HORIZON_DAYS,
    PURCHASE_HORIZON_DAYS,
)


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run depends on besides the data."""

    purchase_horizon: int = PURCHASE_HORIZON_DAYS
    churn_horizon: int = CHURN_HORIZON_DAYS
    cltv_horizon: int = CLTV_HORIZON_DAYS
    params: ModelParams = field(default_factory=ModelParams)
    max_train_snapshots: int = 26
    max_train_rows: int = 400_000
    # Early stopping and calibration need a steady estimate, not every validation row.
    max_validation_rows: int = 200_000
    min_class_examples: int = 100
    fit_btyd: bool = True  # the BG/NBD + Gamma-Gamma baseline
    btyd_features: bool = True  # BG/NBD + Gamma-Gamma outputs as LightGBM inputs

    def __post_init__(self) -> None:
        for horizon in (self.purchase_horizon, self.churn_horizon, self.cltv_horizon):
            check_horizon(horizon)


@dataclass
class TaskResult:
    """A task's outcome: its model (None on fallback), split, and test predictions/metrics."""

    task: Task
    model: TrainedModel | None = None
    split: TimeSplit | None = None
    fallback_reason: str | None = None
    metrics: dict = field(default_factory=dict)
    baseline_metrics: dict[str, dict] = field(default_factory=dict)
    fitted_baselines: dict[str, object] = field(default_factory=dict)
    """Baselines of this run that score like a model (`predict(frame)`), by name: what serves
    the task when LightGBM is not promoted and one of them is the best baseline."""
    test: pd.DataFrame | None = None  # actual and predicted columns, for the report
    train_rows: int = 0
    seconds: float = 0.0


@dataclass
class TrainingRun:
    results: dict[str, TaskResult]
    prior_gap: float
    prospect_rates: dict[int, float]
    next_order_mae_days: float | None = None
    btyd_fits: dict = field(default_factory=dict)
    """BTYD fits of the test snapshots (by date), shared by every task's baseline."""


def prospect_rates(frame: pd.DataFrame, horizons) -> dict[int, float]:
    """Share of prospects who ordered within each horizon, over every labelled snapshot."""
    prospects = frame.loc[~frame["has_ordered"]]
    rates = {}
    for h in horizons:
        observed = prospects[f"orders_next_{h}d"].dropna()
        rates[h] = float((observed > 0).mean()) if len(observed) else 0.0
    return rates


def _sample(rows: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    return rows if len(rows) <= limit else rows.sample(limit, random_state=seed).sort_index()


def fitted_btyd(frame: pd.DataFrame, day: pd.Timestamp, rates: dict, fits: dict) -> Btyd | None:
    """BG/NBD + Gamma-Gamma fitted on the history as of `day` (cached in `fits` by date), or
    None when the shop has too few repeat buyers for one."""
    if day not in fits:
        fits[day] = Btyd.fit_if_possible(frame.loc[frame["as_of_date"] == day], rates)
    return fits[day]


def train_task(
    frame: pd.DataFrame,
    task: Task,
    config: RunConfig,
    prospect_rates: dict[int, float] | None = None,
    btyd_fits: dict | None = None,
) -> TaskResult:
    """Split, fit and judge one task. The BTYD features come from a fit on the latest training
    snapshot's history (`btyd_fits` caches fits by date across tasks), so neither validation
    nor test outcomes shape them."""
    result = TaskResult(task)
    if task.kind == "multiclass" and not frame_categories(frame):
        result.fallback_reason = "the shop's order data names no product categories"
        return result
    # Every task stops early across a horizon-long gap: its trees correct a start (BTYD, the
    # customer's own mix), and only corrections that outlast the drift of one horizon help on
    # the scoring day (without it, next-category trees that won on validation lost 6 points of
    # accuracy to their start on the test weeks). The split sees one date per labelled row of
    # the population, so the gap gives way where it would leave the model too few rows.
    population = task.population(frame)
    labelled = labelled_snapshots(frame.loc[population], task.label)
    result.split = split = time_split(
        labelled, task.horizon, max_train_snapshots=config.max_train_snapshots,
        gap_before_validation=True,
    )  # fmt: skip
    if split is None:
        result.fallback_reason = f"history shorter than the {task.horizon}-day horizon"
        return result
    if task.kind == "multiclass":
        # Only next orders placed before the test window began may teach the model.
        known_by = frame["as_of_date"] + pd.to_timedelta(frame["days_to_next_order"], unit="D")
        first_test = split.tests[0]
        population = population & ((known_by < first_test) | frame["as_of_date"].isin(split.tests))
    train = _sample(
        subset(frame, split.train, task.label, population),
        config.max_train_rows,
        config.params.seed,
    )
    valid = _sample(
        subset(frame, split.validation, task.label, population),
        config.max_validation_rows,
        config.params.seed,
    )
    test = subset(frame, split.tests, task.label, population)
    y_train = task.target(train)
    if task.kind == "amount":
        counts = [int((y_train > 0).sum())]
    elif task.kind == "binary":
        counts = np.bincount(y_train.astype(int), minlength=2)
    else:
        # Long-tail categories may be rare next orders; two well-represented ones make a model.
        counts = np.sort(np.bincount(y_train.astype(int)))[::-1][:2]
        counts = counts if len(counts) == 2 else [0]
    if min(counts) < config.min_class_examples:
        result.fallback_reason = (
            f"a label class has fewer than {config.min_class_examples} training examples"
        )
        return result
    began = time.perf_counter()
    btyd = None
    if config.btyd_features:
        fits = {} if btyd_fits is None else btyd_fits
        btyd = fitted_btyd(frame, split.train[-1], prospect_rates or {}, fits)
    params = config.params.for_multiclass() if task.kind == "multiclass" else config.params
    result.model = fit_model(task, train, valid, params, btyd)
    result.seconds = time.perf_counter() - began
    result.train_rows = len(train)
    # The baselines learn from every snapshot before validation (they have no early stopping
    # to keep honest), so the gap never weakens what the model must beat.
    baseline_train = train
    if task.kind == "binary":
        limit = config.max_train_snapshots
        ungapped = time_split(labelled, task.horizon, max_train_snapshots=limit)
        if ungapped.train != split.train:  # equal when the gap gave way or had nothing to drop
            baseline_train = _sample(subset(frame, ungapped.train, task.label, population),
                                     config.max_train_rows, config.params.seed)  # fmt: skip
    result.test = _evaluate(result, baseline_train, test)
    return result


def _evaluate(result: TaskResult, train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    task, model = result.task, result.model
    actual = task.target(test)
    out = pd.DataFrame(
        {
            "customer_id": test["customer_id"].to_numpy(),
            "as_of_date": test["as_of_date"].to_numpy(),
            "actual": actual,
        }
    )
    if task.kind == "binary":
        out["model"] = model.predict(test)
        baseline = RecencyFrequencyLogistic().fit(train, task.target(train))
        out["rf_logistic"] = baseline.predict(test)
        result.fitted_baselines["rf_logistic"] = baseline
        result.metrics = classification_metrics(actual, out["model"])
        result.metrics["calibration"] = model.calibrator.method
        result.baseline_metrics["rf_logistic"] = classification_metrics(actual, out["rf_logistic"])
    elif task.kind == "amount":
        out["model"] = model.predict(test)
        out["p10"], out["p90"] = model.predict_interval(test)
        result.fitted_baselines["run_rate"] = RunRate(task.horizon)
        out["run_rate"] = result.fitted_baselines["run_rate"].predict(test)
        result.metrics = amount_metrics(actual, out["model"])
        result.metrics["p10_p90_coverage"] = interval_coverage(actual, out["p10"], out["p90"])
        result.baseline_metrics["run_rate"] = amount_metrics(actual, out["run_rate"])
    else:
        out["model"] = model.predict(test).argmax(axis=1)
        # Baseline: the category they have bought most, else the shop's most common next one.
        usual = train["next_order_category"].cat.codes.mode().iloc[0]
        top = test["top_category"].cat.codes.to_numpy()
        out["top_category"] = np.where(top >= 0, top, usual)
        result.metrics = {"accuracy": float((out["model"] == actual).mean()), "n": len(out)}
        result.baseline_metrics["top_category"] = {
            "accuracy": float((out["top_category"] == actual).mean()),
            "n": len(out),
        }
    return out


def add_btyd_baseline(
    result: TaskResult, frame: pd.DataFrame, rates: dict[int, float], fits: dict | None = None
) -> None:
    """BG/NBD + Gamma-Gamma fitted on the history as of the first test snapshot, judged on every
    test snapshot's future from that snapshot's own history.

    One fit before the test weeks, as the model gets one training before them: between retrains
    BTYD scores with the parameters of the latest run's fit, as the model scores with its trees.
    `fits` caches fits by date across tasks (a PyMC fit compiles its graph anew on every call,
    about a second even on a small shop): tasks whose tests begin on the same day share one.
    """
    task = result.task
    fits = {} if fits is None else fits
    column = {"purchase": "p_order", "churn": "p_no_order", "cltv": "expected_revenue"}[task.name]
    fit = fitted_btyd(frame, result.split.tests[0], rates, fits)
    if fit is None:
        return  # too few repeat buyers before the test weeks: no BTYD baseline to judge
    test = subset(frame, result.split.tests, task.label, task.population(frame))
    result.test["btyd"] = fit.predict(test, task.horizon)[column].to_numpy()
    actual = task.target(test)
    score = amount_metrics if task.kind == "amount" else classification_metrics
    result.baseline_metrics["btyd"] = score(actual, result.test["btyd"].to_numpy())


def train_all(frame: pd.DataFrame, config: RunConfig) -> TrainingRun:
    """Every task, its baselines and the next-order-date check, on one labelled frame."""
    horizons = {config.purchase_horizon, config.churn_horizon, config.cltv_horizon}
    rates = prospect_rates(frame, horizons)
    run = TrainingRun({}, typical_gap(frame), rates)
    for task in tasks(config.purchase_horizon, config.churn_horizon, config.cltv_horizon):
        result = run.results[task.name] = train_task(frame, task, config, rates, run.btyd_fits)
        if result.model is not None and config.fit_btyd and task.kind != "multiclass":
            add_btyd_baseline(result, frame, rates, run.btyd_fits)
    # Judged where the next order is known: customers who ordered again within the observed
    # window of the latest snapshot that has any (so it favours short waits; a sanity check).
    known_dates = frame.loc[frame["days_to_next_order"].notna(), "as_of_date"]
    if not known_dates.empty:
        latest = frame.loc[frame["as_of_date"] == known_dates.max()]
        known = latest["days_to_next_order"].notna() & latest["has_ordered"]
        predicted = expected_days_to_next_order(latest.loc[known], run.prior_gap)
        run.next_order_mae_days = float(
            (predicted - latest.loc[known, "days_to_next_order"]).abs().mean()
        )
    return run
