"""Metrics on hand-checkable inputs, and reasons phrased from contributions."""

import numpy as np
import pandas as pd
import pytest

from pipeline.lib.modeling.calibration import choose_total_scale
from pipeline.lib.modeling.evaluate import (
    amount_metrics,
    classification_metrics,
    expected_calibration_error,
    top_decile_lift,
)
from pipeline.lib.modeling.explain import phrase, phrase_column, top_reasons


def test_perfect_ordering_has_gini_one_and_reversed_minus_one():
    actual = np.array([0, 0, 5, 10, 0, 20, 0, 1, 0, 3.0] * 3)
    assert amount_metrics(actual, actual)["normalised_gini"] == pytest.approx(1.0)
    assert amount_metrics(actual, -actual)["normalised_gini"] < 0
    assert amount_metrics(actual, actual * 2)["total_ratio"] == pytest.approx(2.0)
    assert amount_metrics(actual, actual)["decile_mape"] == pytest.approx(0.0)


def test_calibration_error_and_lift():
    y = np.array([1] * 10 + [0] * 90)
    assert expected_calibration_error(y, np.full(100, 0.1)) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(100, 0.5)) == pytest.approx(0.4)
    p = np.linspace(1, 0, 100)  # the ten positives score highest
    assert top_decile_lift(y, p) == pytest.approx(10.0)
    metrics = classification_metrics(y, p)
    assert metrics["roc_auc"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="both classes"):
        classification_metrics(np.zeros(5), np.full(5, 0.2))


def test_reasons_are_phrased_for_marketers():
    assert phrase("recency_gap_ratio", 2.31) == "no order in 2.3× their usual gap"
    assert phrase("emails_opened_30d", 4.0) == "opened 4 emails in the last 30 days"
    assert phrase("category_share_1", 0.75, "shoes") == "75% of items bought were shoes"
    assert phrase("days_since_last_order", np.nan) == "has never ordered"
    assert phrase("orders_lifetime", 3.0) == "3 orders so far"


def test_top_reasons_keep_only_features_that_push_the_score_up():
    frame = pd.DataFrame(
        {"recency_gap_ratio": [2.0, 0.5], "emails_opened_30d": [4.0, 0.0], "orders_30d": [0, 2.0]}
    )
    features = list(frame.columns)
    contributions = np.array([[0.9, 0.3, -0.2], [-0.5, -0.1, 0.4]])
    reasons = top_reasons(contributions, frame, features)
    assert reasons[0] == ["no order in 2.0× their usual gap", "opened 4 emails in the last 30 days"]
    assert reasons[1] == ["2 orders in the last 30 days"]


def test_a_low_score_is_explained_by_what_holds_it_down():
    frame = pd.DataFrame(
        {
            "days_since_last_order": [438.0, 12.0],
            "days_since_last_click": [np.nan, 3.0],
            "orders_lifetime": [1.0, 6.0],
        }
    )
    features = list(frame.columns)
    # Row 0: a tiny score, pushed down by recency, nudged up by the (missing) click.
    contributions = np.array([[-2.0, 0.1, -0.4], [0.8, 0.3, 0.5]])
    reasons = top_reasons(contributions, frame, features, direction=np.array([-1.0, 1.0]))
    assert reasons[0] == ["last order 438 days ago", "1 orders so far"]
    assert reasons[1] == [
        "last order 12 days ago",
        "6 orders so far",
        "last clicked an email 3 days ago",
    ]


def test_phrasing_a_column_matches_phrasing_each_value():
    values = pd.Series([2.31, np.nan, 0.5, 2.31, 7.0])
    expected = [phrase("recency_gap_ratio", v) for v in values]
    assert list(phrase_column("recency_gap_ratio", values)) == expected
    consent = pd.Series(pd.Categorical(["subscribed", None, "never_subscribed"]))
    assert list(phrase_column("email_consent", consent)) == [
        "email consent: subscribed",
        "no email consent yet",
        "email consent: never subscribed",
    ]


def test_days_since_reasons_read_as_the_date_and_stay_the_same_a_day_later():
    frame = pd.DataFrame({"days_since_last_order": [282.0, np.nan], "orders_lifetime": [2.0, 0.0]})
    contributions = np.array([[-2.0, -0.1], [-1.0, -0.2]])
    direction = np.array([-1.0, -1.0])

    def reasons(as_of: str, days: list[float]) -> list[list[str]]:
        rows = frame.assign(days_since_last_order=days)
        dates = pd.Series(pd.to_datetime([as_of, as_of]))
        return top_reasons(contributions, rows, list(frame.columns), direction, as_of=dates)

    today = reasons("2026-12-06", [282.0, np.nan])
    assert today[0] == ["last order on 2026-02-27", "2 orders so far"]
    assert today[1] == ["has never ordered", "0 orders so far"]
    assert reasons("2026-12-07", [283.0, np.nan]) == today


def test_the_total_is_matched_to_the_validation_weeks_only_when_that_carries():
    snapshots = np.repeat(np.arange(4), 100)
    predicted = np.full(400, 10.0)
    under = np.full(400, 12.5)  # every week 25% above the model
    assert np.isclose(choose_total_scale(predicted, under, snapshots), 1.25)
    swinging = np.repeat([5.0, 15.0, 5.0, 15.0], 100)  # no level that carries to another week
    assert choose_total_scale(predicted, swinging, snapshots) == 1.0
    assert choose_total_scale(predicted, under, np.zeros(400)) == 1.0  # one week: no check
