"""Model metrics on a held-out snapshot (scikit-learn where it has them).

Classifiers: ROC-AUC, PR-AUC, log loss, Brier, expected calibration error (10 equal-width bins,
weighted by bin size) and top-decile lift (positive rate in the top 10% by score over the overall
rate). Amounts (CLTV): normalised Gini (Gini of the prediction's ordering over the Gini of the
perfect ordering), Spearman rank correlation, decile MAPE (mean over prediction deciles of
|predicted total − actual total| / actual total) and total predicted over total actual.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

# What each task is judged on first, and whether larger is better.
PRIMARY_METRIC = {
    "purchase": ("log_loss", False),
    "churn": ("log_loss", False),
    "cltv": ("normalised_gini", True),
    "category": ("accuracy", True),
}


# What a challenger must also be at least as good as every baseline on, beyond the primary
# metric: a classifier with the lower log loss but the worse ranking would target worse.
GUARD_METRICS = {"purchase": [("roc_auc", True)], "churn": [("roc_auc", True)]}


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    if y.min() == y.max():
        raise ValueError("a classification test set needs both classes")
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "top_decile_lift": top_decile_lift(y, p),
        "base_rate": float(y.mean()),
        "n": len(y),
    }


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    which = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in np.unique(which):
        in_bin = which == b
        error += in_bin.mean() * abs(p[in_bin].mean() - y[in_bin].mean())
    return float(error)


def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float:
    top = np.argsort(-p, kind="stable")[: max(1, len(p) // 10)]
    return float(y[top].mean() / y.mean())


def gini(actual: np.ndarray, pred: np.ndarray) -> float:
    """Gini of `actual` ordered by `pred` descending (ties broken by position)."""
    order = np.argsort(-pred, kind="stable")
    cumulative = np.cumsum(actual[order]) / actual.sum()
    n = len(actual)
    return float(cumulative.sum() / n - (n + 1) / (2 * n))


def amount_metrics(actual: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    actual = np.asarray(actual, dtype=float)
    pred = np.asarray(pred, dtype=float)
    if actual.sum() <= 0:
        raise ValueError("an amount test set needs some positive actuals")
    deciles = pd.qcut(pd.Series(pred).rank(method="first"), 10, labels=False)
    by_decile = pd.DataFrame({"d": deciles, "a": actual, "p": pred}).groupby("d").sum()
    positive = by_decile["a"] > 0
    mape = (by_decile["p"] - by_decile["a"]).abs()[positive] / by_decile["a"][positive]
    return {
        "normalised_gini": gini(actual, pred) / gini(actual, actual),
        "spearman": float(spearmanr(actual, pred).statistic),
        "decile_mape": float(mape.mean()),
        "total_ratio": float(pred.sum() / actual.sum()),
        "mae": float(np.abs(actual - pred).mean()),
        "n": len(actual),
    }


def decile_table(actual: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    """Predicted and actual mean per prediction decile (1 = highest predicted)."""
    ranks = pd.Series(pred).rank(method="first", ascending=False)
    deciles = pd.qcut(ranks, 10, labels=False) + 1
    frame = pd.DataFrame({"decile": deciles, "actual": actual, "predicted": pred})
    return frame.groupby("decile").mean()


def interval_coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of actual amounts inside [low, high] (0.8 is right for a p10–p90 range)."""
    return float(((actual >= low) & (actual <= high)).mean())


def beats(task: str, candidate: dict, reference: dict) -> bool:
    """Whether `candidate` is strictly better than `reference` on the task's primary metric."""
    name, larger_is_better = PRIMARY_METRIC[task]
    new, old = candidate[name], reference[name]
    return new > old if larger_is_better else new < old


def not_materially_worse(task: str, candidate: dict, reference: dict, tolerance: float) -> bool:
    """Whether `candidate` is at most `tolerance` (relative) worse on the primary metric."""
    name, larger_is_better = PRIMARY_METRIC[task]
    new, old = candidate[name], reference[name]
    margin = abs(old) * tolerance
    return new >= old - margin if larger_is_better else new <= old + margin


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `actual` against `expected`, on `expected`'s deciles."""
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))
