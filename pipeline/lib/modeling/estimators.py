"""LightGBM models of customer behaviour, and what each one predicts.

Tasks (grain of training rows: one per customer × weekly snapshot, in the task's population):
- purchase: P(≥ 1 order within the purchase horizon), everyone including prospects;
- churn: P(no order within the churn horizon), customers with ≥ 1 order before the snapshot;
- cltv: expected net revenue within the CLTV horizon (tweedie objective: many exact zeros and a
  long right tail), with p10/p90 from two quantile models;
- category: the category of the next order (multiclass over the shop's top categories and
  `other`, see `categories`), customers who ordered again.
Classifiers are calibrated on the validation snapshot (Platt or isotonic) when two-fold cross
-fitting on that snapshot says it lowers log loss. The expected next order date is not learnt:
it comes from each customer's own gap history (`expected_days_to_next_order`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from pipeline.lib.modeling.categories import aligned, frame_categories, levels
from pipeline.lib.modeling.datasets import FEATURES, feature_matrix


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
    learning_rate: float = 0.1
    n_estimators: int = 400
    min_child_samples: int = 50
    early_stopping_rounds: int = 30
    seed: int = 7

    def lgb_params(self, objective: str, **extra) -> dict:
        return {
            "objective": objective,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": 0.9,
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
class Calibrator:
    """Maps a classifier's raw probability to a calibrated one."""

    method: str  # none / platt / isotonic
    model: object = None

    def __call__(self, p: np.ndarray) -> np.ndarray:
        if self.method == "platt":
            return self.model.predict_proba(_logit(p)[:, None])[:, 1]
        if self.method == "isotonic":
            return self.model.predict(p)
        return p


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _fit_calibrator(method: str, p: np.ndarray, y: np.ndarray) -> Calibrator:
    if method == "platt":
        return Calibrator(method, LogisticRegression().fit(_logit(p)[:, None], y))
    if method == "isotonic":
        iso = IsotonicRegression(y_min=1e-4, y_max=1 - 1e-4, out_of_bounds="clip")
        return Calibrator(method, iso.fit(p, y))
    return Calibrator("none")


def choose_calibrator(p: np.ndarray, y: np.ndarray, seed: int) -> tuple[Calibrator, dict]:
    """The calibration with the lowest two-fold cross-fitted log loss on the validation rows
    (fitting and judging on the same rows would always favour isotonic)."""
    folds = np.random.default_rng(seed).integers(0, 2, len(y))
    losses = {}
    for method in ("none", "platt", "isotonic"):
        calibrated = np.empty(len(y))
        for k in (0, 1):
            fit_rows, out_rows = folds != k, folds == k
            if len(np.unique(y[fit_rows])) < 2:
                calibrated[out_rows] = p[out_rows]
                continue
            calibrated[out_rows] = _fit_calibrator(method, p[fit_rows], y[fit_rows])(p[out_rows])
        losses[method] = float(log_loss(y, np.clip(calibrated, 1e-6, 1 - 1e-6), labels=[0, 1]))
    best = min(losses, key=losses.get)
    return _fit_calibrator(best, p, y), losses


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
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    categories: tuple[str, ...] = ()  # the shop's ranked categories it was trained with

    @property
    def classes(self) -> tuple[str, ...]:
        """What a multiclass model's probability columns stand for, in order."""
        return levels(self.categories)

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model inputs of `frame`, its category slots meaning what they meant in training."""
        return feature_matrix(aligned(frame, self.categories))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability (binary), expected amount (amount) or class probabilities (multiclass)."""
        raw = self.booster.predict(self.matrix(frame))
        return self.calibrator(raw) if self.kind == "binary" else raw

    def predict_interval(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """p10 and p90 of the amount (ordered, never negative)."""
        x = self.matrix(frame)
        low = np.maximum(self.quantiles["p10"].predict(x), 0)
        high = np.maximum(self.quantiles["p90"].predict(x), 0)
        return np.minimum(low, high), np.maximum(low, high)

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Per-feature contributions (raw score space), features × rows, bias column dropped."""
        return self.booster.predict(self.matrix(frame), pred_contrib=True)[:, :-1]

    def importance(self) -> pd.Series:
        gain = self.booster.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.features).sort_values(ascending=False)


def fit_model(
    task: Task, train: pd.DataFrame, valid: pd.DataFrame, params: ModelParams
) -> TrainedModel:
    """LightGBM with early stopping on the validation snapshot, then calibration/quantiles."""
    categories = frame_categories(train)
    objective, extra = {
        "binary": ("binary", {}),
        "amount": ("tweedie", {"tweedie_variance_power": 1.3}),
        "multiclass": ("multiclass", {"num_class": len(levels(categories))}),
    }[task.kind]
    booster = _boost(params.lgb_params(objective, **extra), task, train, valid, params)
    model = TrainedModel(task.name, task.kind, task.horizon, booster, categories=categories)
    if task.kind == "binary":
        y_valid = task.target(valid)
        raw = booster.predict(feature_matrix(valid))
        model.calibrator, model.calibration_losses = choose_calibrator(raw, y_valid, params.seed)
    if task.kind == "amount":
        for name, alpha in (("p10", 0.1), ("p90", 0.9)):
            quantile = params.lgb_params("quantile", alpha=alpha)
            model.quantiles[name] = _boost(quantile, task, train, valid, params)
    return model


def _boost(
    lgb_params: dict, task: Task, train: pd.DataFrame, valid: pd.DataFrame, params: ModelParams
) -> lgb.Booster:
    train_set = lgb.Dataset(feature_matrix(train), task.target(train), free_raw_data=True)
    valid_set = lgb.Dataset(feature_matrix(valid), task.target(valid), reference=train_set)
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
