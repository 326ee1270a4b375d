"""Calibration of a classifier's probabilities, chosen on held-out validation snapshots.

Grain: one calibrator per trained classifier. Platt (logistic on the logit), isotonic or none,
whichever has the lowest log loss when fitted on some validation snapshots and judged on
another (calibration must carry to a later week), and by more than chance for a calibrator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss


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


def choose_calibrator(
    p: np.ndarray, y: np.ndarray, seed: int, snapshots: np.ndarray | None = None
) -> tuple[Calibrator, dict]:
    """The calibration with the lowest cross-fitted log loss on the validation rows: fitted on
    the other validation snapshots and judged on each held-out one (calibration must carry to
    a later week), or two random folds when there is one snapshot. Fitting and judging on the
    same rows would always favour isotonic."""
    if snapshots is not None and len(np.unique(snapshots)) >= 2:
        folds = np.unique(snapshots, return_inverse=True)[1]
    else:
        folds = np.random.default_rng(seed).integers(0, 2, len(y))
    losses, row_losses = {}, {}
    for method in ("none", "platt", "isotonic"):
        calibrated = np.empty(len(y))
        for k in np.unique(folds):
            fit_rows, out_rows = folds != k, folds == k
            if len(np.unique(y[fit_rows])) < 2:
                calibrated[out_rows] = p[out_rows]
                continue
            calibrated[out_rows] = _fit_calibrator(method, p[fit_rows], y[fit_rows])(p[out_rows])
        calibrated = np.clip(calibrated, 1e-6, 1 - 1e-6)
        row_losses[method] = -(y * np.log(calibrated) + (1 - y) * np.log(1 - calibrated))
        losses[method] = float(log_loss(y, calibrated, labels=[0, 1]))
    best = min(losses, key=losses.get)
    # A calibrator must lower the loss by more than one standard error of the per-row gain:
    # a smaller gain on the validation weeks is noise that a later week does not repeat.
    gain = row_losses["none"] - row_losses[best]
    if best != "none" and gain.mean() <= gain.std(ddof=1) / np.sqrt(len(gain)):
        best = "none"
    return _fit_calibrator(best, p, y), losses


def choose_total_scale(predicted: np.ndarray, actual: np.ndarray, snapshots: np.ndarray) -> float:
    """A factor for an amount model's predictions so their total matches the validation
    snapshots' (a shop's spend level drifts between the training weeks and the latest ones),
    or 1 when that does not carry: each snapshot judged with the factor of the others must
    land closer to its own total, on average in log terms, than with no factor."""
    days = np.unique(snapshots)
    if len(days) < 2 or predicted.sum() <= 0 or actual.sum() <= 0:
        return 1.0
    scaled_error = plain_error = 0.0
    for day in days:
        held, others = snapshots == day, snapshots != day
        if predicted[held].sum() <= 0 or actual[held].sum() <= 0 or actual[others].sum() <= 0:
            return 1.0
        factor = actual[others].sum() / predicted[others].sum()
        plain_error += abs(np.log(predicted[held].sum() / actual[held].sum()))
        scaled_error += abs(np.log(factor * predicted[held].sum() / actual[held].sum()))
    return float(actual.sum() / predicted.sum()) if scaled_error < plain_error else 1.0
