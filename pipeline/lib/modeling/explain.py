"""Per-customer reasons: the three features that most explain the tier a score is in, in words.

LightGBM's own per-feature contributions (`pred_contrib`, SHAP values in raw score space, asked
once per pattern of split sides: `tree_contributions`) rank the features for each customer. A
high score is explained by what lifts it, a low one by what holds it down (a 1% purchase score
reads "last order 400 days ago", not the email click that nudged it up a little). A classifier
boosted from BG/NBD's log-odds adds BTYD's part of the score to its expected-orders feature
(`TrainedModel.contributions`), so "about 0.1 orders expected in 90 days" can be a reason
beside the trees' corrections. Each reason is phrased from the customer's own value of the
feature, e.g. "no order in 2.3× their usual gap"; phrasing is vectorised (one phrase per
distinct shown value), so a million customers are explained in seconds.
A count of days since something is phrased as the date it happened ("last order on
2026-02-27", given the as-of date): that text stays true, and stays the same, day after day,
where "282 days ago" would change every profile that carries it every day.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from pipeline.lib.modeling.baselines import BTYD_FEATURES
from pipeline.lib.modeling.categories import slot_names

_n = lambda v: f"{v:.0f}"  # noqa: E731
_money = lambda v: f"{v:,.0f}"  # noqa: E731
_pct = lambda v: f"{v * 100:.0f}%"  # noqa: E731

# feature → (phrase template, value formatter). Features not listed fall back to
# "<feature name>: <value>" so no contribution is ever silently dropped.
PHRASES: dict[str, tuple[str, Callable[[float], str]]] = {
    "recency_gap_ratio": ("no order in {}× their usual gap", lambda v: f"{v:.1f}"),
    "days_since_last_order": ("last order {} days ago", _n),
    "days_since_first_order": ("first order {} days ago", _n),
    "days_since_first_seen": ("known for {} days", _n),
    "orders_lifetime": ("{} orders so far", _n),
    "orders_365d": ("{} orders in the last year", _n),
    "orders_90d": ("{} orders in the last 90 days", _n),
    "orders_30d": ("{} orders in the last 30 days", _n),
    "revenue_lifetime": ("spent {} in total", _money),
    "revenue_365d": ("spent {} in the last year", _money),
    "revenue_90d": ("spent {} in the last 90 days", _money),
    "revenue_30d": ("spent {} in the last 30 days", _money),
    "avg_order_value": ("average order of {}", _money),
    "mean_gap_days": ("usually orders every {} days", _n),
    "sd_gap_days": ("order timing varies by {} days", _n),
    "discount_order_share": ("{} of orders used a discount", _pct),
    "refund_order_share": ("{} of orders were refunded", _pct),
    "emails_opened_30d": ("opened {} emails in the last 30 days", _n),
    "emails_clicked_30d": ("clicked {} emails in the last 30 days", _n),
    "emails_received_30d": ("received {} emails in the last 30 days", _n),
    "emails_opened_90d": ("opened {} emails in the last 90 days", _n),
    "emails_clicked_90d": ("clicked {} emails in the last 90 days", _n),
    "emails_received_90d": ("received {} emails in the last 90 days", _n),
    "open_rate_30d": ("opens {} of emails (30 days)", _pct),
    "click_rate_30d": ("clicks {} of emails (30 days)", _pct),
    "open_rate_90d": ("opens {} of emails (90 days)", _pct),
    "click_rate_90d": ("clicks {} of emails (90 days)", _pct),
    "days_since_last_open": ("last opened an email {} days ago", _n),
    "days_since_last_click": ("last clicked an email {} days ago", _n),
    "product_views_7d": ("viewed {} products in the last 7 days", _n),
    "product_views_30d": ("viewed {} products in the last 30 days", _n),
    "add_to_carts_7d": ("added to cart {} times in the last 7 days", _n),
    "add_to_carts_30d": ("added to cart {} times in the last 30 days", _n),
    "abandoned_checkouts_7d": ("abandoned {} checkouts in the last 7 days", _n),
    "abandoned_checkouts_30d": ("abandoned {} checkouts in the last 30 days", _n),
    "preferred_open_hour": ("usually opens emails around {}:00", _n),
    "orders_per_year": ("orders about {} times a year", lambda v: f"{v:.1f}"),
    "quiet_share_of_tenure": ("quiet for {} of their time as a customer", _pct),
    "recent_pace_vs_year": ("ordering at {}× their usual pace lately", lambda v: f"{v:.1f}"),
    "btyd_p_alive": ("{} likely still an active customer", _pct),
    "btyd_orders_30d": ("about {} orders expected in 30 days", lambda v: f"{v:.1f}"),
    "btyd_orders_90d": ("about {} orders expected in 90 days", lambda v: f"{v:.1f}"),
    "btyd_orders_365d": ("about {} orders expected in a year", lambda v: f"{v:.1f}"),
    "btyd_order_value": ("expected to spend about {} an order", _money),
}
# Days-since features phrased as the date they count from, when the as-of date is known.
DATE_PHRASES: dict[str, str] = {
    "days_since_last_order": "last order on {}",
    "days_since_first_order": "first order on {}",
    "days_since_first_seen": "customer since {}",
    "days_since_last_open": "last opened an email on {}",
    "days_since_last_click": "last clicked an email on {}",
}
_NULL_PHRASES = {
    "days_since_last_order": "has never ordered",
    "days_since_last_open": "has never opened an email",
    "days_since_last_click": "has never clicked an email",
    "mean_gap_days": "has ordered only once",
    "recency_gap_ratio": "no repeat-order rhythm yet",
    "avg_order_value": "has never ordered",
    "orders_per_year": "has never ordered",
    "quiet_share_of_tenure": "has never ordered",
    "recent_pace_vs_year": "no order in the last year",
    **{feature: "has never ordered" for feature in BTYD_FEATURES},
}


def phrase(feature: str, value, category: str | None = None) -> str:
    """One marketer-readable reason from a feature and the customer's value of it; `category`
    names the shop category a category slot feature holds."""
    if feature == "has_ordered":
        return "has ordered before" if value else "has not ordered yet"
    if feature.startswith("category_share_") and category is not None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "has bought no items yet"
        return f"{_pct(float(value))} of items bought were {category}"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return _NULL_PHRASES.get(feature, f"no {feature.replace('_', ' ')} yet")
    if feature == "top_category":
        return "mostly buys from other categories" if value == "other" else f"mostly buys {value}"
    if feature == "email_consent":
        return f"email consent: {str(value).replace('_', ' ')}"
    template, fmt = PHRASES.get(feature, (feature.replace("_", " ") + ": {}", str))
    return template.format(fmt(float(value)))


# Display precision of each formatter: values are rounded to it before phrasing, so a column of a
# million customers is phrased once per distinct shown value, not once per row.
_DECIMALS = {_n: 0, _money: 0, _pct: 2}


def phrase_column(
    feature: str,
    values: pd.Series,
    category: str | None = None,
    as_of: pd.Series | None = None,
) -> np.ndarray:
    """`phrase` for every value of one feature, phrasing each distinct displayed value once;
    with `as_of` (the rows' as-of dates) a days-since feature reads as a date."""
    if feature in DATE_PHRASES and as_of is not None and values.dtype.kind in "fiub":
        return _date_phrases(feature, values, as_of)
    if feature in PHRASES and values.dtype.kind in "fiub":
        fmt = PHRASES[feature][1]
        numbers = np.round(values.to_numpy(dtype="float64"), _DECIMALS.get(fmt, 1))
        distinct, inverse = np.unique(numbers, return_inverse=True)  # NaN sorts last, once
        return np.array([phrase(feature, v) for v in distinct], dtype=object)[inverse]
    as_objects = values.astype(object).where(values.notna(), None)
    distinct = pd.unique(as_objects)
    phrased = {v: phrase(feature, v, category) for v in distinct if v is not None}
    null = phrase(feature, None, category)
    return np.array([phrased[v] if v is not None else null for v in as_objects], dtype=object)


def _date_phrases(feature: str, days: pd.Series, as_of: pd.Series) -> np.ndarray:
    """The date `days` before each row's as-of date, in the feature's phrase."""
    counted = days.to_numpy(dtype="float64")
    known = ~np.isnan(counted)
    dates = pd.to_datetime(as_of).to_numpy(dtype="datetime64[D]")
    dates[known] -= np.round(counted[known]).astype("timedelta64[D]")
    texts = np.full(len(days), phrase(feature, None), dtype=object)
    distinct, inverse = np.unique(dates[known], return_inverse=True)
    template = DATE_PHRASES[feature]
    texts[known] = np.array([template.format(d) for d in distinct], dtype=object)[inverse]
    return texts


def top_reasons(
    contributions: np.ndarray,
    inputs: pd.DataFrame,
    features: list[str],
    direction: np.ndarray | None = None,
    k: int = 3,
    as_of: pd.Series | None = None,
) -> list[list[str]]:
    """Up to `k` reasons per row, strongest first, that explain where the row's score sits.

    `direction` is +1 for a row whose score is high (its reasons are the features that lift it)
    and -1 for a row whose score is low (the features that hold it down); default +1. Only
    features pushing the row's own way become reasons. Vectorised: no Python per row besides
    building the result lists. `as_of` (one as-of date per row) dates the days-since reasons.
    """
    rows = len(contributions)
    if direction is None:
        direction = np.ones(rows)
    signed = contributions * np.asarray(direction, dtype=float)[:, None]
    # Only a feature that pushes some row its own way can be a reason: the rest (features the
    # trees never split on, or that push every row the other way) are left out of the ranking.
    candidates = np.flatnonzero((signed > 0).any(axis=0))
    signed = signed[:, candidates]
    k = min(k, len(candidates))
    picks = np.argpartition(-signed, k - 1, axis=1)[:, :k] if k < signed.shape[1] else (
        np.tile(np.arange(k), (rows, 1))
    )  # fmt: skip
    pushes = np.take_along_axis(signed, picks, axis=1)
    ranked = np.argsort(-pushes, axis=1, kind="stable")
    picks = candidates[np.take_along_axis(picks, ranked, axis=1)]
    keep = np.take_along_axis(pushes, ranked, axis=1) > 0
    texts = np.empty((rows, k), dtype=object)
    slot_categories = slot_names(inputs)
    for f in np.unique(picks[keep]):
        at_rows, at_ranks = np.nonzero((picks == f) & keep)
        column = inputs[features[f]].iloc[at_rows]
        category = slot_categories.get(features[f])
        dates = None if as_of is None else as_of.iloc[at_rows]
        texts[at_rows, at_ranks] = phrase_column(features[f], column, category, dates)
    counts = keep.sum(axis=1)
    return [
        row if count == k else row[:count]
        for row, count in zip(texts.tolist(), counts.tolist(), strict=True)
    ]
