"""LightGBM models of customer behaviour: their hyper-parameters and the fitted model object.

Grain: one `TrainedModel` per task (`tasks`) and training run, pickled as that run's artefact;
pickles name these classes by this module, so they stay here. Regularisation is deliberately
strong (small learning rate, large leaves, L2), and a coarser variant is tried too, the
validation snapshots picking: a shop's dynamics drift between training and scoring weeks, and a
model that memorises one stretch of history loses to recency/frequency baselines on the next.
Inputs include BG/NBD + Gamma-Gamma outputs (`model_inputs`). A classifier boosts from the
log-odds of the BG/NBD probability of its label (`start_log_odds`), so its trees learn corrections
to BTYD and early stopping keeps few of them where BTYD is already right; the next category is
boosted from the customer's own mix of categories (`categories.own_mix_log_prior`). Fitting is
`fitting`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit, logit, softmax

from pipeline.lib.modeling.baselines import Btyd

# Calibrator is imported here too: models pickled before it moved name it in this module.
from pipeline.lib.modeling.calibration import Calibrator
from pipeline.lib.modeling.categories import aligned, levels, own_mix_log_prior
from pipeline.lib.modeling.model_inputs import MODEL_FEATURES, model_inputs
from pipeline.lib.modeling.tree_contributions import pattern_contributions


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
class ModelRows:
    """Rows of a frame as one model sees them: the frame, its model inputs and where the
    model's trees start for each row (None: from zero)."""

    frame: pd.DataFrame
    inputs: pd.DataFrame
    start: np.ndarray | None

    def take(self, mask: np.ndarray) -> ModelRows:
        """The rows where `mask` is true."""
        start = None if self.start is None else self.start[mask]
        return ModelRows(self.frame.loc[mask], self.inputs.loc[mask], start)


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
    browsed_weight: float = 0.0  # next-category: items a browsed product counts as in the prior
    total_scale: float = 1.0  # amounts: the factor that matches the validation weeks' total
    # The `Btyd.predict` column the raw scores start from (None: from zero, as every model
    # pickled before this existed): a classifier's probability as log-odds, an amount model's
    # expected revenue as its log; and the mean of that start over the training rows, the
    # level the reasons' contributions are measured from.
    start_column: str | None = None
    start_mean: float = 0.0

    @property
    def classes(self) -> tuple[str, ...]:
        """What a multiclass model's probability columns stand for, in order."""
        return levels(self.categories)

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model inputs of `frame`, its category slots meaning what they meant in training."""
        inputs = model_inputs(aligned(frame, self.categories), self.btyd)
        return inputs[self.features]  # a model saved before a feature was added lacks it

    def rows(self, frame: pd.DataFrame) -> ModelRows:
        """`frame` with its inputs and starts, for scoring and explaining it without computing
        either twice."""
        return ModelRows(frame, self.inputs(frame), self.start_scores(frame))

    def _rows(self, frame: pd.DataFrame | ModelRows) -> ModelRows:
        return frame if isinstance(frame, ModelRows) else self.rows(frame)

    def predict(self, frame: pd.DataFrame | ModelRows) -> np.ndarray:
        """Probability (binary), expected amount (amount) or class probabilities (multiclass)."""
        if self.shop_mix is not None:  # boosted from the customer's own mix
            frame = aligned(frame, self.categories)
            prior = own_mix_log_prior(frame, self.shop_mix, self.browsed_weight)
            if self.mix_only:
                return softmax(prior, axis=1)
            raw = self.booster.predict(self.inputs(frame), raw_score=True)
            return softmax(raw + prior, axis=1)
        if self.kind == "binary":
            return self.calibrator(self.uncalibrated(frame))
        return self._amounts_and_factors(frame)[0]

    def uncalibrated(self, frame: pd.DataFrame | ModelRows) -> np.ndarray:
        """A classifier's probability before calibration: its trees' raw score added to where
        it started (BTYD's log-odds, when it starts there), through the sigmoid."""
        rows = self._rows(frame)
        if rows.start is None:
            return self.booster.predict(rows.inputs)
        return expit(self.booster.predict(rows.inputs, raw_score=True) + rows.start)

    def start_scores(self, frame: pd.DataFrame) -> np.ndarray | None:
        """The raw scores the trees add to, per row of `frame` (None: zero)."""
        if self.start_column is None:
            return None
        return btyd_start(self.btyd, frame, self.kind, self.horizon, self.start_column)

    def predict_interval(self, frame: pd.DataFrame | ModelRows) -> tuple[np.ndarray, np.ndarray]:
        """p10 and p90 of the amount (ordered, never negative)."""
        rows = self._rows(frame)
        factors = self._amounts_and_factors(rows)[1]
        low = np.maximum(self.quantiles["p10"].predict(rows.inputs), 0) * factors
        high = np.maximum(self.quantiles["p90"].predict(rows.inputs), 0) * factors
        return np.minimum(low, high), np.maximum(low, high)

    def _amounts_and_factors(
        self, frame: pd.DataFrame | ModelRows
    ) -> tuple[np.ndarray, np.ndarray]:
        """An amount model's expected amounts and the factor each row's level was set by.

        Boosted from BTYD, the amounts of each as-of date add up to BTYD's expected revenue
        over that date's rows: the trees rank people well, but the level they learnt moves
        with who the training weeks held (a shop's seasonal wave of new customers), while
        BTYD's total follows the population being scored. Otherwise the factor is
        `total_scale`, fixed at training."""
        rows = self._rows(frame)
        if rows.start is None:
            amounts = self.booster.predict(rows.inputs)
            factors = np.full(len(rows.inputs), self.total_scale)
            return amounts * factors, factors
        trees = np.exp(self.booster.predict(rows.inputs, raw_score=True) + rows.start)
        days = rows.frame["as_of_date"].to_numpy()
        per_day = pd.DataFrame({"day": days, "btyd": np.exp(rows.start), "trees": trees})
        totals = per_day.groupby("day")[["btyd", "trees"]].transform("sum")
        factors = (totals["btyd"] / totals["trees"]).to_numpy()
        return trees * factors, factors

    def contributions(
        self, inputs: pd.DataFrame, frame: pd.DataFrame | ModelRows | None = None
    ) -> np.ndarray:
        """Per-feature contributions (raw score space) for an `inputs` matrix, rows × features,
        bias column dropped. A model that starts from BTYD's log-odds needs the `frame` rows
        the inputs came from, in order: how far a row's start lies from the training rows'
        average start is BTYD's part of the score, credited to the BTYD feature of the horizon
        (its expected orders), so the reasons cover BTYD's view as well as the trees' corrections.
        """
        contributions = pattern_contributions(self.booster, inputs)[:, :-1]
        if self.start_column is None:
            return contributions
        if frame is None:
            raise ValueError("a model that starts from BTYD needs the frame to explain a score")
        start = frame.start if isinstance(frame, ModelRows) else self.start_scores(frame)
        contributions[:, self.features.index(f"btyd_orders_{self.horizon}d")] += (
            start - self.start_mean
        )
        return contributions

    def importance(self) -> pd.Series:
        gain = self.booster.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.features).sort_values(ascending=False)


def btyd_start(btyd: Btyd, frame: pd.DataFrame, kind: str, horizon: int, column: str):
    """Where a `kind` model boosted from BTYD starts, per row of `frame`: the log of an amount
    (a tweedie model's raw score is a log amount), else the log-odds of a probability."""
    start = start_log_amount if kind == "amount" else start_log_odds
    return start(btyd, frame, horizon, column)


# BG/NBD probabilities this close to 0 or 1 say "certain", which no snapshot of a shop supports:
# capped so one row's start cannot dominate the trees' corrections.
_START_PROBABILITY_CAP = 1e-4


def start_log_odds(btyd: Btyd, frame: pd.DataFrame, horizon: int, column: str) -> np.ndarray:
    """Log-odds of BTYD's `column` probability within `horizon` days for each row of `frame`;
    0 (even odds) where BTYD gives none (P(no order) of someone who never ordered)."""
    p = btyd.predict(frame, horizon)[column].to_numpy(dtype=float)
    p = np.clip(p, _START_PROBABILITY_CAP, 1 - _START_PROBABILITY_CAP)
    return np.nan_to_num(logit(p), nan=0.0)


# An amount BTYD expects to be zero (a prospect where no prospect ever ordered) starts from
# this instead, in the shop's currency: far below any order, so the trees can still lift it.
_START_AMOUNT_FLOOR = 1e-4


def start_log_amount(btyd: Btyd, frame: pd.DataFrame, horizon: int, column: str) -> np.ndarray:
    """Log of BTYD's `column` amount within `horizon` days for each row of `frame` (a tweedie
    model's raw score is the log of its expected amount)."""
    amount = btyd.predict(frame, horizon)[column].to_numpy(dtype=float)
    return np.log(np.maximum(np.nan_to_num(amount, nan=0.0), _START_AMOUNT_FLOOR))
