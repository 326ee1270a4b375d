"""The model's inputs: the contract's feature columns plus rhythm features derived from them.

Grain: one row per (customer_id, as_of_date), like the frame it comes from. The derived
features describe a customer relative to their own history (how often they order per year of
being a customer, how long they have been quiet as a share of that time, their recent pace
against their yearly one), not in calendar days: a model trained on one stretch of a shop's
history then carries to a later one where ages and tenures have all grown. The BTYD features
(P(alive), expected orders and order value from a BG/NBD + Gamma-Gamma fit) do the same from a
model of buying and dropping out that holds at any age of the shop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.lib.modeling.baselines import BTYD_FEATURES, Btyd
from pipeline.lib.modeling.datasets import FEATURES, feature_matrix

RHYTHM_FEATURES = ["orders_per_year", "quiet_share_of_tenure", "recent_pace_vs_year"]
MODEL_FEATURES = [*FEATURES, *RHYTHM_FEATURES, *BTYD_FEATURES]

# Tenure below a month says little about a yearly rate: count it as a month.
_MIN_TENURE_DAYS = 30.0


def rhythm_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The derived features (null where the customer has no order to derive them from)."""
    tenure = frame["days_since_first_order"].clip(lower=0)
    orders = frame["orders_lifetime"]
    yearly_pace = frame["orders_365d"] / 4
    derived = pd.DataFrame(
        {
            "orders_per_year": orders / tenure.clip(lower=_MIN_TENURE_DAYS) * 365,
            "quiet_share_of_tenure": frame["days_since_last_order"] / tenure.clip(lower=1),
            "recent_pace_vs_year": (frame["orders_90d"] / yearly_pace).where(yearly_pace > 0),
        },
        index=frame.index,
    )
    return derived.where(frame["has_ordered"].astype(bool), axis=0)


def model_inputs(frame: pd.DataFrame, btyd: Btyd | None = None) -> pd.DataFrame:
    """The matrix LightGBM trains and predicts on, columns in `MODEL_FEATURES` order; the BTYD
    features come from `btyd` (the fit the model was trained with), null without one."""
    if btyd is None:
        expected = pd.DataFrame(np.nan, index=frame.index, columns=BTYD_FEATURES)
    else:
        expected = btyd.features(frame)
    return pd.concat([feature_matrix(frame), rhythm_features(frame), expected], axis=1)
