"""LightGBM models of customer behaviour, and what each one predicts.

Tasks (grain of training rows: one per customer × weekly snapshot, in the task's population):
- purchase: P(≥ 1 order within the purchase horizon), everyone including prospects;
- churn: P(no order within the churn horizon), customers with ≥ 1 order before the snapshot;
- cltv: expected net revenue within the CLTV horizon (tweedie objective: many exact zeros and a
  long right tail), with p10/p90 from two quantile models;
- category: the category of the next order (multiclass over the shop's top categories and
  `other`, see `categories`), customers who ordered again.
Early stopping watches several validation snapshots; classifiers are calibrated on them (Platt
or isotonic) when fitting on some validation snapshots and judging on a held-out one says it
lowers log loss, and CLTV's total is matched to theirs when that carries from snapshot to
snapshot (`calibration`). Regularisation is deliberately strong (small learning rate, large
leaves, L2), and a coarser variant is tried too, the validation snapshots picking: a shop's
dynamics drift between training and scoring weeks, and a model that memorises one stretch of
history loses to recency/frequency baselines on the next. Inputs include BG/NBD + Gamma-Gamma
outputs (`model_inputs`). The next category is boosted from the customer's own mix of
categories (`categories.own_mix_log_prior`). The expected next order
date is not learnt: it comes from each customer's own gap history
(`expected_days_to_next_order`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import softmax

from pipeline.lib.modeling.baselines import Btyd

# Calibrator is imported here too: models pickled before it moved name it in this module.
from pipeline.lib.modeling.calibration import Calibrator, choose_calibrator, choose_total_scale
from pipeline.lib.modeling.categories import (
    aligned,
    frame_categories,
    levels,
    own_mix_log_prior,
)
from pipeline.lib.modeling.model_inputs import MODEL_FEATURES, model_inputs


@dataclass(frozen=True)
class ModelParams:
    """LightGBM hyper-parameters and the run's seed.

    Shallow trees on purpose: explaining a score (TreeSHAP, `pred_contrib`) costs about
    leaves × depth² per tree and row, and daily scoring explains every customer. On the 10k
    sandbox store depth 4 / 15 leaves scores ~10× faster than unlimited depth / 31 leaves with
    the same test log loss (customer behaviour here is smooth in recency and frequency).
    """

    num_leaves: int = 15
    max_depth: int = 4
    learning_rate: float = 0.05
    n_estimators: int = 600
    min_child_samples: int = 200
    lambda_l2: float = 10.0
    early_stopping_rounds: int = 40
    seed: int = 7
    # The stronger regularisation also tried; the validation snapshots pick (`candidates`).
    also_try_coarser: bool = True

    def candidates(self) -> list[ModelParams]:
        """These parameters and, unless switched off, a coarser variant (fewer, larger leaves
        and more shrinkage): a shop with little signal or drifting dynamics needs the
        smoother model, one with rich histories the finer one, and only the time-based
        validation can tell which shop this is."""
        if not self.also_try_coarser:
            return [self]
        coarser = replace(
            self,
            num_leaves=max(2, self.num_leaves // 2),
            max_depth=max(1, self.max_depth - 1),
            min_child_samples=self.min_child_samples * 4,
            lambda_l2=self.lambda_l2 * 5,
        )
        return [self, coarser]

    def for_multiclass(self) -> ModelParams:
        """The next-category model's own: it grows one tree per class each round, each class
        holds a fraction of the rows (so smaller leaves), and it starts from the customer's
        own mix rather than from nothing (so a faster rate reaches its best in fewer rounds)."""
        return replace(
            self,
            learning_rate=min(2 * self.learning_rate, 0.2),
            min_child_samples=max(20, self.min_child_samples // 4),
        )

    def lgb_params(self, objective: str, **extra) -> dict:
        return {
            "objective": objective,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples,
            "lambda_l2": self.lambda_l2,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": 2,
            "verbose": -1,
            **extra,
        }


@dataclass(frozen=True)
class Task:
    """One prediction: its label column (non-null where observed), population and target."""

    name: str
    kind: str  # binary / amount / multiclass
    horizon: int
    label: str
    population: Callable[[pd.DataFrame], pd.Series]
    target: Callable[[pd.DataFrame], np.ndarray]


def tasks(purchase_horizon: int, churn_horizon: int, cltv_horizon: int) -> list[Task]:
    everyone = lambda f: pd.Series(True, index=f.index)  # noqa: E731
    buyers = lambda f: f["has_ordered"]  # noqa: E731
    return [
        Task("purchase", "binary", purchase_horizon, f"orders_next_{purchase_horizon}d",
             everyone, lambda f: (f[f"orders_next_{purchase_horizon}d"] > 0).to_numpy(int)),
        Task("churn", "binary", churn_horizon, f"orders_next_{churn_horizon}d",
             buyers, lambda f: (f[f"orders_next_{churn_horizon}d"] == 0).to_numpy(int)),
        Task("cltv", "amount", cltv_horizon, f"revenue_next_{cltv_horizon}d",
             everyone, lambda f: f[f"revenue_next_{cltv_horizon}d"].clip(lower=0).to_numpy()),
        Task("category", "multiclass", purchase_horizon, "next_order_category",
             everyone, lambda f: f["next_order_category"].cat.codes.to_numpy()),
    ]  # fmt: skip


@dataclass
class TrainedModel:
    """A fitted task model: boosters, calibration and what it was trained on."""

    task: str
    kind: str
    horizon: int
    booster: lgb.Booster
    quantiles: dict[str, lgb.Booster] = field(default_factory=dict)
    calibrator: Calibrator = field(default_factory=lambda: Calibrator("none"))
    calibration_losses: dict = field(default_factory=dict)
    features: list[str] = field(default_factory=lambda: list(MODEL_FEATURES))
    categories: tuple[str, ...] = ()  # the shop's ranked categories it was trained with
    btyd: Btyd | None = None  # the fit behind its BTYD features (None: they were null)
    params: ModelParams | None = None  # the candidate the validation snapshots picked
    shop_mix: np.ndarray | None = None  # next-category: the classes' shares, for the prior
    mix_only: bool = False  # next-category: the trees did not beat the prior on validation
    total_scale: float = 1.0  # amounts: the factor that matches the validation weeks' total

    @property
    def classes(self) -> tuple[str, ...]:
        """What a multiclass model's probability columns stand for, in order."""
        return levels(self.categories)

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model inputs of `frame`, its category slots meaning what they meant in training."""
        inputs = model_inputs(aligned(frame, self.categories), self.btyd)
        return inputs[self.features]  # a model saved before a feature was added lacks it

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability (binary), expected amount (amount) or class probabilities (multiclass)."""
        if self.shop_mix is not None:  # boosted from the customer's own mix
            frame = aligned(frame, self.categories)
            prior = own_mix_log_prior(frame, self.shop_mix)
            if self.mix_only:
                return softmax(prior, axis=1)
            raw = self.booster.predict(self.inputs(frame), raw_score=True)
            return softmax(raw + prior, axis=1)
        raw = self.booster.predict(self.inputs(frame))
        if self.kind == "amount":
            return raw * self.total_scale
        return self.calibrator(raw) if self.kind == "binary" else raw

    def predict_interval(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """p10 and p90 of the amount (ordered, never negative)."""
        x = self.inputs(frame)
        low = np.maximum(self.quantiles["p10"].predict(x), 0) * self.total_scale
        high = np.maximum(self.quantiles["p90"].predict(x), 0) * self.total_scale
        return np.minimum(low, high), np.maximum(low, high)

    def contributions(self, inputs: pd.DataFrame) -> np.ndarray:
        """Per-feature contributions (raw score space) for an `inputs` matrix, rows × features,
        bias column dropped."""
        return self.booster.predict(inputs, pred_contrib=True)[:, :-1]

    def importance(self) -> pd.Series:
        gain = self.booster.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.features).sort_values(ascending=False)


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
    shop_mix = None
    if task.kind == "multiclass":
        # Laplace-smoothed so a class no training row had still gets a little mass.
        counts = np.bincount(data[1], minlength=len(levels(categories))) + 1.0
        shop_mix = counts / counts.sum()
        data = (*data[:4], own_mix_log_prior(train, shop_mix), own_mix_log_prior(valid, shop_mix))
    stop_data, judge = data, None
    if task.kind == "multiclass":
        stop_data, judge = _hold_out_latest_week(data, valid["as_of_date"].to_numpy())
    boosters = [_boost(p.lgb_params(objective, **extra), stop_data, p) for p in params.candidates()]
    # Each early-stopped on the validation snapshots: keep the one that scores them best.
    booster = min(boosters, key=_validation_loss)
    params = params.candidates()[boosters.index(booster)]
    model = TrainedModel(
        task.name, task.kind, task.horizon, booster, categories=categories, btyd=btyd,
        params=params, shop_mix=shop_mix,
    )  # fmt: skip
    if task.kind == "multiclass":
        model.mix_only = not _trees_beat_the_prior(booster, *judge)
    if task.kind == "binary":
        raw = booster.predict(data[2])
        model.calibrator, model.calibration_losses = choose_calibrator(
            raw, data[3], params.seed, valid["as_of_date"].to_numpy()
        )
    if task.kind == "amount":
        model.total_scale = choose_total_scale(
            booster.predict(data[2]), data[3], valid["as_of_date"].to_numpy()
        )
        for name, alpha in (("p10", 0.1), ("p90", 0.9)):
            quantile = params.lgb_params("quantile", alpha=alpha)
            model.quantiles[name] = _boost(quantile, data, params)
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


# The gap assumed when no customer has ordered twice yet (a brand-new shop): about two months,
# the usual replenishment cycle of consumables; replaced by the shop's own median once it has one.
NEW_SHOP_GAP_DAYS = 60.0


def typical_gap(frame: pd.DataFrame) -> float:
    """The median of customers' mean gaps between orders: the prior for one-order customers."""
    gaps = frame["mean_gap_days"].dropna()
    return float(gaps.median()) if len(gaps) else NEW_SHOP_GAP_DAYS


def expected_days_to_next_order(frame: pd.DataFrame, prior_gap: float) -> pd.Series:
    """Days from the as-of date to the next order, from the customer's own gap history.

    Not yet due: the rest of their mean gap. Overdue: a full mean gap from today (once past
    their usual time, waiting is memoryless). One order: the shop's typical gap (`prior_gap`).
    No order: null.
    """
    gap = frame["mean_gap_days"].fillna(prior_gap)
    remaining = gap - frame["days_since_last_order"]
    days = remaining.where(remaining > 0, gap)
    return days.where(frame["has_ordered"])
