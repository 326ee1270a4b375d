"""Fitting one task's LightGBM model: candidates, early stopping, calibration and quantiles.

Grain: one `TrainedModel` per (task, training run). Early stopping watches several validation
snapshots, and of the candidate parameters (`ModelParams.candidates`) the one scoring them best
is kept. Classifiers are calibrated on them (Platt or isotonic) when fitting on some validation
snapshots and judging on a held-out one says it lowers log loss, and CLTV's total is matched to
theirs when that carries from snapshot to snapshot (`calibration`). A classifier starts from
the log-odds of the run's BG/NBD probability of its label when there is a BTYD fit, so the trees
only learn where BTYD is wrong (and it is then not recalibrated); CLTV likewise starts from the
log of BTYD's expected revenue, and each as-of date's total is then BTYD's (the model's
`predict`), not a factor fitted here. The next category starts from the customer's own mix and
keeps the trees only when they beat that prior.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from pipeline.lib.modeling.baselines import Btyd
from pipeline.lib.modeling.calibration import choose_calibrator, choose_total_scale
from pipeline.lib.modeling.categories import (
    choose_browsed_weight,
    frame_categories,
    levels,
    own_mix_log_prior,
)
from pipeline.lib.modeling.estimators import ModelParams, TrainedModel, btyd_start
from pipeline.lib.modeling.model_inputs import model_inputs
from pipeline.lib.modeling.tasks import Task

# The BG/NBD probability (a `Btyd.predict` column) of each classifier's label.
BTYD_PROBABILITY = {"purchase": "p_order", "churn": "p_no_order"}


def _btyd_start_column(task: Task, btyd: Btyd | None) -> str | None:
    """The `Btyd.predict` column a task's trees start from (None: from zero): a classifier's
    label probability, an amount's expected revenue; the next category has a prior of its own."""
    if btyd is None or task.kind == "multiclass":
        return None
    return "expected_revenue" if task.kind == "amount" else BTYD_PROBABILITY[task.name]


def fit_model(
    task: Task,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    params: ModelParams,
    btyd: Btyd | None = None,
) -> TrainedModel:
    """LightGBM with early stopping on the validation snapshots, then calibration/quantiles;
    `btyd` (fitted on history before the validation labels) makes the BTYD features."""
    categories = frame_categories(train)
    objective, extra = {
        "binary": ("binary", {}),
        "amount": ("tweedie", {"tweedie_variance_power": 1.3}),
        # Stopped on the error rate: the category is judged on accuracy, and the log loss
        # keeps improving on probabilities long after the top pick stops getting better.
        "multiclass": ("multiclass", {"num_class": len(levels(categories)),
                                      "metric": "multi_error"}),
    }[task.kind]  # fmt: skip
    data = (model_inputs(train, btyd), task.target(train), model_inputs(valid, btyd),
            task.target(valid), None, None)  # fmt: skip
    shop_mix, browsed_weight = None, 0.0
    start_column = _btyd_start_column(task, btyd)
    if start_column is not None:
        data = (*data[:4], *(btyd_start(btyd, rows, task.kind, task.horizon, start_column)
                             for rows in (train, valid)))  # fmt: skip
    if task.kind == "multiclass":
        # Laplace-smoothed so a class no training row had still gets a little mass.
        counts = np.bincount(data[1], minlength=len(levels(categories))) + 1.0
        shop_mix = counts / counts.sum()
        browsed_weight = choose_browsed_weight(train, shop_mix, data[1])
        data = (*data[:4], *(own_mix_log_prior(rows, shop_mix, browsed_weight)
                             for rows in (train, valid)))  # fmt: skip
    stop_data, judge = data, None
    if task.kind == "multiclass":
        stop_data, judge = _hold_out_latest_week(data, valid["as_of_date"].to_numpy())
    boosters = [_boost(p.lgb_params(objective, **extra), stop_data, p) for p in params.candidates()]
    # Each early-stopped on the validation snapshots: keep the one that scores them best.
    booster = min(boosters, key=_validation_loss)
    params = params.candidates()[boosters.index(booster)]
    model = TrainedModel(
        task.name, task.kind, task.horizon, booster, categories=categories, btyd=btyd,
        params=params, shop_mix=shop_mix, browsed_weight=browsed_weight, start_column=start_column,
        start_mean=0.0 if start_column is None else float(np.mean(data[4])),
    )  # fmt: skip
    if task.kind == "multiclass":
        model.mix_only = not _trees_beat_the_prior(booster, *judge)
    if task.kind == "binary" and start_column is None:
        # A classifier boosted from BTYD is not recalibrated: it refines calibrated log-odds
        # under log loss, and its trees stopped where the validation weeks' log loss was
        # best, so a calibrator fitted on those weeks again fits their drift twice.
        model.calibrator, model.calibration_losses = choose_calibrator(
            model.uncalibrated(valid), data[3], params.seed, valid["as_of_date"].to_numpy()
        )
    if task.kind == "amount" and start_column is None:
        # An amount model boosted from BTYD's expected revenue takes each day's total from
        # BTYD instead (`TrainedModel.predict`): the trees' level drifts with the weeks' mix.
        model.total_scale = choose_total_scale(
            model.predict(valid), data[3], valid["as_of_date"].to_numpy()
        )
    if task.kind == "amount":
        for name, alpha in (("p10", 0.1), ("p90", 0.9)):
            quantile = params.lgb_params("quantile", alpha=alpha)
            # Quantiles are amounts, not logs: they start from zero.
            model.quantiles[name] = _boost(quantile, (*data[:4], None, None), params)
    return model


def _hold_out_latest_week(data: tuple, days: np.ndarray) -> tuple[tuple, tuple]:
    """(`data` early-stopping on every validation week but the latest, (inputs, target,
    initial scores) of the latest): early stopping flatters the weeks it watched, so the
    trees are judged against the prior on one it did not (all of them when there is one)."""
    x_train, y_train, x_valid, y_valid, init_train, init_valid = data
    latest = days == days.max()
    judge = (x_valid[latest], y_valid[latest], init_valid[latest])
    if latest.all():
        return data, judge
    earlier = ~latest
    stop = (x_train, y_train, x_valid[earlier], y_valid[earlier], init_train, init_valid[earlier])
    return stop, judge


def _trees_beat_the_prior(
    booster: lgb.Booster, x: pd.DataFrame, y: np.ndarray, prior: np.ndarray
) -> bool:
    """Whether the boosted picks beat the prior's on rows early stopping did not watch, by
    more than chance: of the rows where exactly one is right, the trees must win more than one
    standard deviation (a sign test) above half. Otherwise the model is the customer's own
    mix (a few hundred next orders cannot tell a small gain from noise)."""
    boosted_right = (booster.predict(x, raw_score=True) + prior).argmax(axis=1) == y
    prior_right = prior.argmax(axis=1) == y
    wins = int((boosted_right & ~prior_right).sum())
    losses = int((prior_right & ~boosted_right).sum())
    return wins - losses > np.sqrt(wins + losses)


def _validation_loss(booster: lgb.Booster) -> float:
    """The booster's best validation score on its objective's own metric (lower is better)."""
    [scores] = booster.best_score.values()
    return float(next(iter(scores.values())))


def _boost(lgb_params: dict, data: tuple, params: ModelParams) -> lgb.Booster:
    """`data` is (train inputs, train target, validation inputs, validation target, train
    initial scores, validation initial scores); initial scores None to start from zero."""
    x_train, y_train, x_valid, y_valid, init_train, init_valid = data
    train_set = lgb.Dataset(x_train, y_train, init_score=init_train, free_raw_data=True)
    valid_set = lgb.Dataset(x_valid, y_valid, init_score=init_valid, reference=train_set)
    return lgb.train(
        lgb_params,
        train_set,
        num_boost_round=params.n_estimators,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
