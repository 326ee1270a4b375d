"""Small synthetic feature and label frames that follow the marts' contracts.

Each customer has a latent weekly purchase rate and a chance of having lapsed; features and
labels at every weekly snapshot are drawn from them, so recency/frequency carry signal and a
model can learn. Deterministic for a seed. Not a store simulation: snapshots are independent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.lib.modeling.categories import SLOT_FEATURES
from pipeline.lib.modeling.datasets import NUMERIC_FEATURES, prepare

FIRST_SNAPSHOT = pd.Timestamp("2024-01-01")  # a Monday
# Deliberately not any simulated shop's categories: the models must take whatever the data says.
CATEGORIES = ("shoes", "shirts", "bags", "hats")


def category_quantities(taste: np.ndarray, items: int = 20) -> list[list[dict]]:
    """Items per category by name, largest first (ties by name), as the features mart has it."""
    rows = []
    for shares in taste:
        counts = np.round(shares * items).astype(int)
        pairs = sorted(zip(CATEGORIES, counts, strict=True), key=lambda p: (-p[1], p[0]))
        rows.append([{"category": c, "quantity": int(q)} for c, q in pairs if q > 0])
    return rows


def synthetic_frame(
    customers: int = 2000, weeks: int = 30, seed: int = 3, categories=CATEGORIES
) -> pd.DataFrame:
    """Features ⨝ labels for `weeks` Monday snapshots; labels observed as far as the last
    snapshot allows (30/90/365-day columns null when their window passes it)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(1.2, 1 / 60, customers)  # orders per day while active
    lapse = rng.beta(1, 3, customers)
    taste = rng.dirichlet(np.ones(len(CATEGORIES)), customers)
    quantities = category_quantities(taste)
    last = FIRST_SNAPSHOT + pd.Timedelta(weeks=weeks - 1)
    frames = []
    for week in range(weeks):
        as_of = FIRST_SNAPSHOT + pd.Timedelta(weeks=week)
        seen = rng.uniform(10, 500, customers)
        orders = rng.poisson(rate * seen * (1 - lapse / 2))
        has = orders > 0
        active = rng.uniform(size=customers) > lapse
        since_last = np.where(has, rng.exponential(np.where(active, 1 / rate / 2, 200)), np.nan)
        since_last = np.minimum(since_last, seen)
        gap = np.where(orders >= 2, np.minimum(seen / np.maximum(orders, 1), 400), np.nan)
        aov = np.where(has, rng.gamma(4, 12, customers), np.nan)
        numeric = [c for c in NUMERIC_FEATURES if c not in SLOT_FEATURES]
        frame = pd.DataFrame({c: 0.0 for c in numeric}, index=range(customers))
        frame = frame.assign(
            customer_id=[f"c{i:05d}" for i in range(customers)],
            as_of_date=as_of,
            days_since_first_seen=seen,
            has_ordered=has,
            orders_lifetime=orders,
            orders_365d=orders,
            orders_90d=rng.poisson(np.where(active, rate * 90, 0)) * has,
            revenue_lifetime=orders * np.nan_to_num(aov),
            revenue_365d=orders * np.nan_to_num(aov),
            avg_order_value=aov,
            days_since_first_order=np.where(has, seen * 0.9, np.nan),
            days_since_last_order=since_last,
            mean_gap_days=gap,
            recency_gap_ratio=since_last / gap,
            emails_opened_30d=rng.poisson(np.where(active, 3, 0.5)),
            emails_received_30d=6,
            email_consent=rng.choice(["subscribed", "unsubscribed", "never_subscribed"], customers),
            quantity_total=np.where(has, 20, 0),
            category_quantities=[q if h else [] for q, h in zip(quantities, has, strict=True)],
            browsed_categories=[[] for _ in range(customers)],
        )
        effective = np.where(active, rate, 0.0) + 0.002
        for h in (30, 90, 365):
            observed = as_of + pd.Timedelta(days=h) <= last
            n = rng.poisson(effective * h)
            frame[f"orders_next_{h}d"] = n if observed else None
            frame[f"revenue_next_{h}d"] = n * rng.gamma(4, 12, customers) if observed else None
        n90 = frame["orders_next_90d"]
        frame["is_churned"] = np.where(has & n90.notna(), n90 == 0, None)
        next_days = rng.exponential(1 / effective)
        frame["observed_days"] = (last - as_of).days
        frame["days_to_next_order"] = np.where(next_days < (last - as_of).days, next_days, np.nan)
        picks = [rng.choice(len(CATEGORIES), p=t) for t in taste]
        frame["next_order_category"] = np.where(
            frame["days_to_next_order"].notna(), np.array(CATEGORIES)[picks], None
        )
        frames.append(frame.loc[frame["orders_next_30d"].notna() | (week == weeks - 1)])
    return prepare(pd.concat(frames, ignore_index=True), tuple(categories))
