"""Classifiers stop early across a horizon-long gap; a calibrator must beat none beyond chance."""

import numpy as np
import pandas as pd

from pipeline.lib.modeling.calibration import choose_calibrator
from pipeline.lib.modeling.datasets import labelled_snapshots, subset, time_split
from pipeline.lib.modeling.tasks import tasks
from pipeline.lib.modeling.training_run import RunConfig, train_task
from tests.lib.modeling.conftest import FAST

WEEKS = pd.Series(pd.date_range("2024-01-01", periods=60, freq="W-MON"))


def test_a_gapped_split_learns_only_from_labels_known_when_validation_begins():
    plain = time_split(WEEKS, 90)
    gapped = time_split(WEEKS, 90, gap_before_validation=True)
    assert gapped.validation == plain.validation and gapped.tests == plain.tests
    horizon = pd.Timedelta(days=90)
    assert all(d + horizon <= gapped.validation[0] for d in gapped.train)
    assert plain.train[-1] + horizon > plain.validation[0]  # the plain split has no such gap
    assert gapped.train[-1] + horizon + pd.Timedelta(weeks=1) > gapped.validation[0]


def test_a_history_too_short_for_the_gap_keeps_the_plain_split():
    weeks = WEEKS.iloc[:16]
    assert time_split(weeks, 30, gap_before_validation=True) == time_split(weeks, 30)


def _rows_per_week(counts) -> pd.Series:
    """One snapshot date per labelled row: `counts[i]` rows on week i."""
    return pd.Series(np.repeat(WEEKS.iloc[: len(counts)].to_numpy(), counts))


def test_the_gap_gives_way_when_it_keeps_under_half_the_training_rows():
    # A fast-growing shop: the weeks the gap would keep hold few of the rows before validation.
    growing = _rows_per_week(np.linspace(5, 400, 52).astype(int))
    plain = time_split(growing, 90)
    assert time_split(growing, 90, gap_before_validation=True) == plain
    # A steady shop keeps the gap; so does the growing one when asked for a smaller share.
    steady = _rows_per_week(np.full(52, 200))
    assert time_split(steady, 90, gap_before_validation=True) != time_split(steady, 90)
    relaxed = time_split(growing, 90, gap_before_validation=True, min_gapped_share=0.1)
    assert relaxed.train[-1] + pd.Timedelta(days=90) <= relaxed.validation[0]


def test_the_gap_share_is_counted_in_rows_not_weeks():
    plain = time_split(_rows_per_week(np.full(52, 200)), 90)
    gapped_weeks = [w for w in plain.train if w + pd.Timedelta(days=90) <= plain.validation[0]]
    kept = len(gapped_weeks) / len(plain.train)
    counts = np.full(52, 200)
    # The same weeks, but the ones the gap drops now hold most rows: the gap gives way.
    dropped = WEEKS.isin(set(plain.train) - set(gapped_weeks)).to_numpy()[:52]
    counts[dropped] = 200 * 10
    heavy_late = _rows_per_week(counts)
    assert kept >= 0.5
    assert time_split(heavy_late, 90, gap_before_validation=True) == time_split(heavy_late, 90)


def test_classifiers_train_across_the_gap_but_their_baseline_learns_from_every_week(frame):
    [task] = [t for t in tasks(30, 90, 90) if t.name == "purchase"]
    config = RunConfig(params=FAST, max_train_snapshots=8, fit_btyd=False, btyd_features=False)
    result = train_task(frame, task, config)
    split = result.split
    assert all(d + pd.Timedelta(days=30) <= split.validation[0] for d in split.train)
    ungapped = time_split(labelled_snapshots(frame, task.label), 30, max_train_snapshots=8)
    assert ungapped.train[-1] > split.train[-1]
    rows = subset(frame, ungapped.train, task.label, task.population(frame))
    baseline = result.fitted_baselines["rf_logistic"]
    refitted = type(baseline)().fit(rows, task.target(rows))
    assert np.allclose(baseline.model.coef_, refitted.model.coef_)


def test_calibration_is_kept_off_unless_it_gains_more_than_chance():
    rng = np.random.default_rng(5)
    weeks = np.repeat(np.arange(4), 1500)
    truth = rng.uniform(0.02, 0.6, len(weeks))
    y = (rng.uniform(size=len(weeks)) < truth).astype(int)
    calibrated, _ = choose_calibrator(truth, y, 0, weeks)
    assert calibrated.method == "none"  # already right: any gain is noise
    overconfident = truth**3
    calibrated, losses = choose_calibrator(overconfident, y, 0, weeks)
    assert calibrated.method != "none" and losses[calibrated.method] < losses["none"]
