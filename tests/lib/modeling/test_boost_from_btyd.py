"""Models boosted from BTYD (classifiers from its log-odds, CLTV from its log revenue): held-out
quality, scoring, reasons and old pickles."""

import pickle

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import log_loss

from pipeline.lib.modeling.baselines import Btyd
from pipeline.lib.modeling.estimators import TrainedModel, start_log_amount, start_log_odds
from pipeline.lib.modeling.fitting import fit_model
from pipeline.lib.modeling.scoring import TierThresholds, score
from pipeline.lib.modeling.tasks import tasks
from tests.lib.modeling.conftest import FAST

[PURCHASE] = [t for t in tasks(30, 90, 90) if t.name == "purchase"]


@pytest.fixture(scope="module")
def btyd_world(frame):
    """A shop where BG/NBD is the truth: every snapshot's 30-day label is drawn from the
    probability a BTYD fit gives that row; split by week into train / validation / test."""
    first = frame["as_of_date"].min()
    snapshots = frame.loc[frame["as_of_date"] <= first + np.timedelta64(15, "W")]
    btyd = Btyd.fit(snapshots.loc[snapshots["as_of_date"] == snapshots["as_of_date"].max()],
                    {30: 0.05})  # fmt: skip
    truth = btyd.predict(snapshots, 30)["p_order"].to_numpy()
    drawn = np.random.default_rng(11).uniform(size=len(truth)) < truth
    labelled = snapshots.assign(orders_next_30d=drawn.astype(float))
    week = (labelled["as_of_date"] - labelled["as_of_date"].min()).dt.days // 7
    parts = [labelled.loc[week.between(lo, hi)] for lo, hi in ((0, 9), (10, 12), (13, 15))]
    return btyd, truth[week.between(13, 15).to_numpy()], parts


@pytest.fixture(scope="module")
def started(btyd_world):
    """The purchase model boosted from the BTYD fit of `btyd_world`."""
    btyd, _, (train, valid, _) = btyd_world
    return fit_model(PURCHASE, train, valid, FAST, btyd)


def test_boosting_from_btyd_is_no_worse_than_btyd_where_btyd_is_the_truth(btyd_world, started):
    _, truth, (train, valid, test) = btyd_world
    model = started
    assert model.start_column == "p_order"
    assert model.calibrator.method == "none"  # its trees already stopped on validation's loss
    actual = PURCHASE.target(test)
    btyd_loss = log_loss(actual, truth)
    # The trees only correct BTYD: held-out rows lose (almost) nothing to the truth itself,
    # where trees alone, on the same rows and inputs, fall further behind.
    assert log_loss(actual, model.predict(test)) <= btyd_loss * 1.01
    unstarted = fit_model(PURCHASE, train, valid, FAST, btyd=None)
    assert log_loss(actual, model.predict(test)) < log_loss(actual, unstarted.predict(test))


def test_scoring_adds_the_start_to_the_trees_before_the_sigmoid_and_calibrator(btyd_world, started):
    btyd, _, (_, _, test) = btyd_world
    model = started
    start = start_log_odds(btyd, test, 30, "p_order")
    raw = model.booster.predict(model.inputs(test), raw_score=True)
    assert np.allclose(model.predict(test), model.calibrator(expit(raw + start)))
    restored = pickle.loads(pickle.dumps(model))
    assert np.allclose(restored.predict(test), model.predict(test))


def test_reasons_credit_btyd_with_its_part_of_the_score(btyd_world, started):
    btyd, _, (_, _, test) = btyd_world
    model = started
    inputs = model.inputs(test)
    contributions = model.contributions(inputs, test)
    full = model.booster.predict(inputs, pred_contrib=True)
    tree_bias = full[:, -1]
    start = start_log_odds(btyd, test, 30, "p_order")
    raw = model.booster.predict(inputs, raw_score=True)
    # Every row's score is the training rows' average start, the trees' bias and its reasons.
    assert np.allclose(contributions.sum(axis=1) + tree_bias + model.start_mean, raw + start)
    btyd_column = model.features.index("btyd_orders_30d")
    assert np.allclose(contributions[:, btyd_column] - full[:, btyd_column],
                       start - model.start_mean)  # fmt: skip
    with pytest.raises(ValueError, match="needs the frame"):
        model.contributions(inputs)


def test_a_model_pickled_before_the_start_existed_still_loads_and_scores(run, frame):
    model = run.results["purchase"].model
    snapshot = frame.loc[frame["as_of_date"] == frame["as_of_date"].max()]
    old = TrainedModel.__new__(TrainedModel)
    new_fields = ("start_column", "start_mean")
    old.__dict__.update({k: v for k, v in vars(model).items() if k not in new_fields})
    restored = pickle.loads(pickle.dumps(old))
    assert "start_column" not in restored.__dict__
    expected = model.calibrator(model.booster.predict(model.inputs(snapshot)))
    assert np.allclose(restored.predict(snapshot), expected)
    inputs = restored.inputs(snapshot)
    assert restored.contributions(inputs).shape == (len(snapshot), len(restored.features))


def test_daily_scoring_serves_and_explains_a_boosted_model(btyd_world, started):
    _, _, (_, _, test) = btyd_world
    day = test.loc[test["as_of_date"] == test["as_of_date"].max()].reset_index(drop=True)
    out = score(
        day, {"purchase": started}, {"purchase": 30, "churn": 90, "cltv": 90}, prior_gap=40.0,
        prospect_rates={30: 0.05, 90: 0.1}, thresholds=TierThresholds(), model_version="v",
    )  # fmt: skip
    assert np.allclose(out["purchase_probability"], started.predict(day))
    reasons = out["purchase_reasons"]
    assert reasons.map(len).gt(0).mean() > 0.9
    # BTYD's view is a reason where it drives the score (phrased from its expected orders).
    assert reasons.map(lambda r: any("orders expected in 30 days" in x for x in r)).any()


def test_cltv_starts_from_the_log_of_btyds_expected_revenue(btyd_world):
    btyd, _, (train, valid, test) = btyd_world
    [cltv] = [t for t in tasks(30, 90, 90) if t.name == "cltv"]
    model = fit_model(cltv, train, valid, FAST, btyd)
    assert model.start_column == "expected_revenue"
    start = start_log_amount(btyd, test, 90, "expected_revenue")
    revenue = btyd.predict(test, 90)["expected_revenue"].to_numpy()
    assert np.allclose(np.exp(start), np.maximum(revenue, 1e-4))
    inputs = model.inputs(test)
    raw = model.booster.predict(inputs, raw_score=True)
    # Its trees stopped on the validation weeks: their total is not fitted a second time.
    assert model.total_scale == 1.0
    restored = pickle.loads(pickle.dumps(model))
    assert np.allclose(restored.predict(test), model.predict(test))
    # The reasons cover BTYD's part of the score too, as for the classifiers.
    contributions = model.contributions(inputs, test)
    tree_bias = model.booster.predict(inputs, pred_contrib=True)[:, -1]
    assert np.allclose(contributions.sum(axis=1) + tree_bias + model.start_mean, raw + start)
    # Quantiles are amounts of their own, not corrections of a log.
    low, high = model.predict_interval(test)
    assert (low >= 0).all() and (high >= low).all()


def test_cltv_boosted_from_btyd_ranks_by_its_trees_and_totals_btyds_revenue_per_day(btyd_world):
    btyd, _, (train, valid, test) = btyd_world
    [cltv] = [t for t in tasks(30, 90, 90) if t.name == "cltv"]
    model = fit_model(cltv, train, valid, FAST, btyd)
    trees = np.exp(
        model.booster.predict(model.inputs(test), raw_score=True)
        + start_log_amount(btyd, test, 90, "expected_revenue")
    )
    predicted = model.predict(test)
    revenue = btyd.predict(test, 90)["expected_revenue"].to_numpy()
    low, high = model.predict_interval(test)
    quantiles = [
        np.maximum(model.quantiles[q].predict(model.inputs(test)), 0) for q in ("p10", "p90")
    ]
    upper = np.maximum(*quantiles)
    days = test["as_of_date"].to_numpy()
    assert len(np.unique(days)) > 1
    factors = []
    for day in np.unique(days):
        rows = days == day
        # The day's total is BTYD's; each row keeps its trees' share of it.
        assert np.isclose(predicted[rows].sum(), revenue[rows].sum(), rtol=1e-6)
        factor = predicted[rows] / trees[rows]
        assert np.allclose(factor, factor[0])
        factors.append(factor[0])
        # A day's amounts are its own: scoring it alone gives the same.
        assert np.allclose(model.predict(test.loc[rows]), predicted[rows])
        # The range moves with its amount.
        assert np.allclose(high[rows], upper[rows] * factor[0])
        alone_low, alone_high = model.predict_interval(test.loc[rows])
        assert np.allclose(alone_low, low[rows]) and np.allclose(alone_high, high[rows])
    # The trees' level is not BTYD's: without the factor the totals would differ.
    assert not np.allclose(factors, 1.0, atol=0.01)
