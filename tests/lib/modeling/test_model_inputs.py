"""Rhythm features: relative to the customer's own history, null where there is none."""

import numpy as np
import pandas as pd

from pipeline.lib.modeling.model_inputs import RHYTHM_FEATURES, rhythm_features


def _customers(**columns) -> pd.DataFrame:
    base = {
        "has_ordered": [True, True, False],
        "orders_lifetime": [4.0, 1.0, 0.0],
        "days_since_first_order": [365.0, 5.0, np.nan],
        "days_since_last_order": [73.0, 5.0, np.nan],
        "orders_365d": [4.0, 1.0, 0.0],
        "orders_90d": [2.0, 1.0, 0.0],
    }
    return pd.DataFrame(base | columns)


def test_rhythm_features_describe_the_customer_against_their_own_history():
    derived = rhythm_features(_customers())
    assert list(derived.columns) == RHYTHM_FEATURES
    assert derived.loc[0, "orders_per_year"] == 4.0
    assert derived.loc[0, "quiet_share_of_tenure"] == 0.2
    assert derived.loc[0, "recent_pace_vs_year"] == 2.0  # two orders in a quarter of one a year
    # A week-old customer's one order is not read as 73 a year: tenure counts at least a month.
    assert derived.loc[1, "orders_per_year"] < 13
    assert derived.loc[2].isna().all()  # never ordered: nothing to be relative to


def test_rhythm_features_do_not_grow_with_calendar_age():
    young = rhythm_features(_customers())
    # The same behaviour a year later in life: twice the orders over twice the tenure.
    older = rhythm_features(
        _customers(orders_lifetime=[8.0, 1.0, 0.0], days_since_first_order=[730.0, 5.0, np.nan],
                   days_since_last_order=[146.0, 5.0, np.nan])
    )  # fmt: skip
    assert older.loc[0, "orders_per_year"] == young.loc[0, "orders_per_year"]
    assert older.loc[0, "quiet_share_of_tenure"] == young.loc[0, "quiet_share_of_tenure"]
