"""The expected next order date, from each customer's own gap history (not learnt).

Grain: one value per customer row of a snapshot frame.
"""

from __future__ import annotations

import pandas as pd

# The gap assumed when no customer has ordered twice yet (a brand-new shop): about two months,
# the usual replenishment cycle of consumables; replaced by the shop's own median once it has one.
NEW_SHOP_GAP_DAYS = 60.0


def typical_gap(frame: pd.DataFrame) -> float:
    """The median of customers' mean gaps between orders: the prior for one-order customers."""
    gaps = frame["mean_gap_days"].dropna()
    return float(gaps.median()) if len(gaps) else NEW_SHOP_GAP_DAYS


def expected_days_to_next_order(frame: pd.DataFrame, prior_gap: float) -> pd.Series:
    """Days from the as-of date to the next order, from the customer's own gap history.

    Not yet due: the rest of their mean gap. Overdue: a full mean gap from today (once past
    their usual time, waiting is memoryless). One order: the shop's typical gap (`prior_gap`).
    No order: null.
    """
    gap = frame["mean_gap_days"].fillna(prior_gap)
    remaining = gap - frame["days_since_last_order"]
    days = remaining.where(remaining > 0, gap)
    return days.where(frame["has_ordered"])
