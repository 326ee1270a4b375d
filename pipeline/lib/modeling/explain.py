"""Per-customer reasons: the three features that pushed a score up the most, in words.

LightGBM's own per-feature contributions (`pred_contrib=True`, SHAP values in raw score space)
rank the features for each customer; only features that push the score *up* become reasons
(a churn reason explains risk, a purchase reason explains intent). Each reason is phrased from
the customer's own value of the feature, e.g. "no order in 2.3× their usual gap".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

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
}
_NULL_PHRASES = {
    "days_since_last_order": "has never ordered",
    "days_since_last_open": "has never opened an email",
    "days_since_last_click": "has never clicked an email",
    "mean_gap_days": "has ordered only once",
    "recency_gap_ratio": "no repeat-order rhythm yet",
    "avg_order_value": "has never ordered",
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


def top_reasons(
    contributions: np.ndarray, frame: pd.DataFrame, features: list[str], k: int = 3
) -> list[list[str]]:
    """Up to `k` reasons per row, strongest first, from features with a positive push."""
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :k]
    strength = np.take_along_axis(contributions, order, axis=1)
    values = frame[features].astype(object).to_numpy()
    names = slot_names(frame)
    categories = [names.get(feature) for feature in features]
    reasons = []
    for row, (picks, pushes) in enumerate(zip(order, strength, strict=True)):
        reasons.append(
            [phrase(features[f], values[row, f], categories[f])
             for f, push in zip(picks, pushes, strict=True) if push > 0]
        )  # fmt: skip
    return reasons
