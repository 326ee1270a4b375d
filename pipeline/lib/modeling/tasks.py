"""What each LightGBM model predicts: its label, population and target.

Tasks (grain of training rows: one per customer × weekly snapshot, in the task's population):
- purchase: P(≥ 1 order within the purchase horizon), everyone including prospects;
- churn: P(no order within the churn horizon), customers with ≥ 1 order before the snapshot;
- cltv: expected net revenue within the CLTV horizon (tweedie objective: many exact zeros and a
  long right tail), with p10/p90 from two quantile models;
- category: the category of the next order (multiclass over the shop's top categories and
  `other`, see `categories`), customers who ordered again.
The expected next order date is not learnt: it comes from each customer's own gap history
(`next_order_date`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Task:
    """One prediction: its label column (non-null where observed), population and target."""

    name: str
    kind: str  # binary / amount / multiclass
    horizon: int
    label: str
    population: Callable[[pd.DataFrame], pd.Series]
    target: Callable[[pd.DataFrame], np.ndarray]


def tasks(purchase_horizon: int, churn_horizon: int, cltv_horizon: int) -> list[Task]:
    everyone = lambda f: pd.Series(True, index=f.index)  # noqa: E731
    buyers = lambda f: f["has_ordered"]  # noqa: E731
    return [
        Task("purchase", "binary", purchase_horizon, f"orders_next_{purchase_horizon}d",
             everyone, lambda f: (f[f"orders_next_{purchase_horizon}d"] > 0).to_numpy(int)),
        Task("churn", "binary", churn_horizon, f"orders_next_{churn_horizon}d",
             buyers, lambda f: (f[f"orders_next_{churn_horizon}d"] == 0).to_numpy(int)),
        Task("cltv", "amount", cltv_horizon, f"revenue_next_{cltv_horizon}d",
             everyone, lambda f: f[f"revenue_next_{cltv_horizon}d"].clip(lower=0).to_numpy()),
        Task("category", "multiclass", purchase_horizon, "next_order_category",
             everyone, lambda f: f["next_order_category"].cat.codes.to_numpy()),
    ]  # fmt: skip
