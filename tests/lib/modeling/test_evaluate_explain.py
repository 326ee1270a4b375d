"""Metrics on hand-checkable inputs, and reasons phrased from contributions."""

import numpy as np
import pandas as pd
import pytest

from pipeline.lib.modeling.evaluate import (
    amount_metrics,
    classification_metrics,
    expected_calibration_error,
    top_decile_lift,
)
from pipeline.lib.modeling.explain import phrase, top_reasons


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
