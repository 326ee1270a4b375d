"""Time splits, LightGBM tasks against their baselines, and the small-shop fallbacks."""

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest

from pipeline.lib.modeling.baselines import BTYD_FEATURES, Btyd
from pipeline.lib.modeling.datasets import check_horizon, labelled_snapshots, prepare, time_split
from pipeline.lib.modeling.next_order_date import expected_days_to_next_order
from pipeline.lib.modeling.tasks import tasks
from pipeline.lib.modeling.training_run import RunConfig, add_btyd_baseline, train_task
from tests.lib.modeling.conftest import FAST


def test_split_keeps_every_training_label_window_before_the_test_snapshots(frame):
    for horizon in (30, 90):
        split = time_split(labelled_snapshots(frame, f"orders_next_{horizon}d"), horizon)
        window = pd.Timedelta(days=horizon)
        assert split.test == frame.loc[frame[f"orders_next_{horizon}d"].notna(), "as_of_date"].max()
        assert len(split.tests) == 4 and len(split.validation) == 4
        first_test = split.tests[0]
        assert all(d + window <= first_test for d in split.validation)
        assert all(d < split.validation[0] for d in split.train)
        assert all(d + window <= first_test for d in split.train)


def test_a_short_history_judges_on_fewer_snapshots_rather_than_none():
    weeks = pd.Series(pd.date_range("2024-01-01", periods=7, freq="W-MON"))
    split = time_split(weeks, 30)
    assert split is not None and len(split.train) >= 1 and split.validation
    assert split.validation[-1] + pd.Timedelta(days=30) <= split.tests[0]


def test_split_is_none_when_history_is_shorter_than_the_horizon():
    weeks = pd.Series(pd.date_range("2024-01-01", periods=20, freq="W-MON"))
    assert time_split(weeks, 365) is None
    assert time_split(weeks, 30) is not None


def test_unknown_horizon_is_a_clear_error():
    with pytest.raises(ValueError, match="no label column"):
        check_horizon(60)
    with pytest.raises(ValueError, match="no label column"):
        RunConfig(purchase_horizon=14)


def test_a_consent_level_the_models_do_not_know_is_a_clear_error(frame):
    renamed = frame.assign(email_consent=frame["email_consent"].astype(object).replace(
        "unsubscribed", "maybe"))  # fmt: skip
    with pytest.raises(ValueError, match=r"email_consent has values outside .*\['maybe'\]"):
        prepare(renamed, ("shoes",))


def test_classifiers_beat_the_recency_frequency_baseline(run):
    for task in ("purchase", "churn"):
        result = run.results[task]
        baseline = result.baseline_metrics["rf_logistic"]
        assert result.metrics["roc_auc"] > baseline["roc_auc"], task
        assert result.metrics["log_loss"] < baseline["log_loss"], task
        assert result.metrics["calibration"] in {"none", "platt", "isotonic"}


def test_churn_is_trained_only_on_customers_with_an_order(run, frame):
    result = run.results["churn"]
    tested = frame.set_index(["as_of_date", "customer_id"]).loc[
        pd.MultiIndex.from_frame(result.test[["as_of_date", "customer_id"]])
    ]
    assert tested["has_ordered"].all()
    snapshot = frame.loc[frame["as_of_date"] == result.split.test]
    assert (~snapshot["has_ordered"]).any()


def test_cltv_ranks_better_than_run_rate_and_has_an_ordered_range(run):
    result = run.results["cltv"]
    assert (
        result.metrics["normalised_gini"] > result.baseline_metrics["run_rate"]["normalised_gini"]
    )
    assert (result.test["p10"] <= result.test["p90"]).all()
    assert 0.4 < result.metrics["p10_p90_coverage"] <= 1


def test_next_category_is_at_least_their_usual_category(run, frame):
    """Here the next category is drawn from the taste the items show, so their top category
    is the best pick there is: the model must match it (trees only where they beat it)."""
    result = run.results["category"]
    assert result.metrics["accuracy"] >= result.baseline_metrics["top_category"]["accuracy"]
    probabilities = result.model.predict(frame.iloc[:50])
    assert probabilities.shape == (50, len(result.model.classes))
    assert np.allclose(probabilities.sum(axis=1), 1)


def test_a_coarser_variant_is_a_candidate_unless_switched_off():
    both = dataclasses.replace(FAST, also_try_coarser=True).candidates()
    assert len(both) == 2 and both[1].min_child_samples > both[0].min_child_samples
    assert both[1].num_leaves < both[0].num_leaves
    assert FAST.candidates() == [FAST]


def test_short_history_and_rare_classes_fall_back(frame):
    # cltv: 365 days > 40 weeks of history
    config = RunConfig(params=FAST, fit_btyd=False, btyd_features=False)
    cltv = next(t for t in tasks(30, 90, 365) if t.name == "cltv")
    short = train_task(frame, cltv, config)
    assert short.model is None
    assert "shorter than the 365-day horizon" in short.fallback_reason
    purchase = next(t for t in tasks(30, 90, 365) if t.name == "purchase")
    rare = train_task(frame, purchase, RunConfig(params=FAST, min_class_examples=10**6))
    assert rare.model is None
    assert "fewer than 1000000" in rare.fallback_reason


def test_expected_next_order_comes_from_the_gap_history():
    frame = pd.DataFrame(
        {
            "has_ordered": [True, True, True, False],
            "mean_gap_days": [30.0, 30.0, None, None],
            "days_since_last_order": [10.0, 45.0, 5.0, None],
        }
    )
    days = expected_days_to_next_order(frame, prior_gap=50.0)
    assert days.tolist()[:3] == [20.0, 30.0, 45.0]
    assert pd.isna(days.iloc[3])


@pytest.fixture(scope="module")
def btyd_fit(frame):
    """One BG/NBD + Gamma-Gamma fit (each costs seconds), on the latest snapshot."""
    return Btyd.fit(frame.loc[frame["as_of_date"] == frame["as_of_date"].max()], {30: 0.1})


def test_btyd_baseline_fits_a_snapshot_and_gives_probabilities(frame, btyd_fit):
    snapshot = frame.loc[frame["as_of_date"] == frame["as_of_date"].max()]
    predicted = btyd_fit.predict(snapshot, 30)
    buyers = snapshot["has_ordered"]
    assert predicted.loc[buyers, "p_order"].between(0, 1).all()
    assert predicted.loc[~buyers, "p_order"].eq(0.1).all()
    assert predicted.loc[~buyers, "p_no_order"].isna().all()
    assert (predicted["expected_revenue"] >= 0).all()
    # More recent buyers are likelier to order again.
    recent = snapshot["days_since_last_order"] < snapshot["days_since_last_order"].median()
    assert (
        predicted.loc[recent, "p_order"].mean() > predicted.loc[buyers & ~recent, "p_order"].mean()
    )


def test_btyd_outputs_are_model_inputs_the_model_carries_to_scoring(frame, btyd_fit):
    [purchase] = [t for t in tasks(30, 90, 90) if t.name == "purchase"]
    params = dataclasses.replace(FAST, also_try_coarser=True)
    config = RunConfig(params=params, max_train_snapshots=8, fit_btyd=False)
    split = time_split(labelled_snapshots(frame, purchase.label), 30, max_train_snapshots=8,
                       gap_before_validation=True)  # fmt: skip
    # The run fits BTYD on the latest training snapshot's history; the cache hands it this fit.
    result = train_task(frame, purchase, config, {}, {split.train[-1]: btyd_fit})
    model = result.model
    assert model.btyd is btyd_fit and set(BTYD_FEATURES) <= set(model.features)
    assert model.params in params.candidates()  # the validation snapshots picked one
    snapshot = frame.loc[frame["as_of_date"] == frame["as_of_date"].max()]
    inputs = model.inputs(snapshot)
    buyers = snapshot["has_ordered"].to_numpy()
    assert inputs.loc[buyers, BTYD_FEATURES].notna().all().all()
    assert inputs.loc[~buyers, BTYD_FEATURES].isna().all().all()
    assert inputs["btyd_p_alive"].dropna().between(0, 1).all()
    assert model.importance()[BTYD_FEATURES].sum() > 0
    restored = pickle.loads(pickle.dumps(model))
    assert np.allclose(restored.predict(snapshot), model.predict(snapshot))


def test_the_btyd_baseline_is_one_fit_before_the_test_weeks_judged_on_each(run, frame, btyd_fit):
    result = run.results["churn"]
    result = dataclasses.replace(result, test=result.test.copy(), baseline_metrics={})
    fits = {result.split.tests[0]: btyd_fit}  # the cache hands it this fit as of the first week
    add_btyd_baseline(result, frame, run.prospect_rates, fits)
    assert len(result.split.tests) > 1 and list(fits) == [result.split.tests[0]]  # no other fit
    # Each test week is scored from its own history with that one fit.
    for day, week in result.test.groupby("as_of_date"):
        rows = (
            frame.loc[frame["as_of_date"] == day].set_index("customer_id").loc[week["customer_id"]]
        )
        expected = btyd_fit.predict(rows.reset_index(), 90)["p_no_order"].to_numpy()
        assert np.allclose(week["btyd"].to_numpy(), expected)
    assert result.baseline_metrics["btyd"]["n"] == len(result.test)


def test_a_history_too_thin_for_btyd_before_the_tests_leaves_that_baseline_out(run, frame):
    """Too few repeat buyers for BG/NBD before the test weeks: no BTYD baseline, no crash."""
    result = run.results["churn"]
    thin = {result.split.tests[0]: None}  # the fit before the test weeks: none possible
    add_btyd_baseline(result, frame, run.prospect_rates, thin)
    assert "btyd" not in result.baseline_metrics and "btyd" not in result.test
