"""Buy-till-you-die behaviour of one chunk of simulated people: traits, orders and line items.

Grain: `people` has one row per person; `orders` one row per order; `lines` one row per line item.
Times are float days since the store's start; the simulator turns them into timestamps.

The generative story (individual-level BG/NBD with Gamma-Gamma spend):
- a person signs up on a seasonal acquisition curve, either at their first checkout or through
  the newsletter form (then their first order comes later, or never);
- while alive they order as a Poisson process with rate `purchase_rate` (Gamma across people);
- right after each order they drop out for good with probability `dropout_prob` (Beta);
- each order's value is Gamma(SPEND_SHAPE, rate=spend_rate) with spend_rate Gamma across people;
- items follow their category taste (Dirichlet).
Every parameter of that story is a property of the shop's shape (`shapes.ShopShape`); with
`gap_regularity` k > 1 the gaps between orders are Erlang(k) with the same mean (regular rhythms).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sandbox.shop.catalogue import Catalogue
from sandbox.shop.shapes import ShopShape

DISCOUNT_CODES, DISCOUNT_PERCENTS = ("SAVE10", "SPRING15", "BREW20"), (10, 15, 20)
FIRST_ORDER_DISCOUNT_RATE, DISCOUNT_RATE = 0.25, 0.10
FULL_REFUND_RATE, PARTIAL_REFUND_RATE, PARTIAL_REFUND_SHARE = 0.03, 0.02, (0.2, 0.6)
# Shoppers' preferred hour (UTC): a morning and an evening peak.
HOUR_WEIGHTS = np.array([1, 1, 1, 1, 1, 2, 4, 7, 9, 8, 6, 5, 6, 5, 4, 4, 5, 6, 8, 9, 8, 6, 3, 2.0])


def _acquisition_days(rng, n: int, days: int, start: np.datetime64, shape: ShopShape):
    """Signup days: growing over the history, with the shape's seasonal peaks (or one cohort)."""
    day = np.arange(days)
    day_of_year = (start + day.astype("timedelta64[D]") - start.astype("datetime64[Y]")).astype(
        int
    ) % 365
    season = sum(
        (peak.height * np.exp(-(((day_of_year - peak.day_of_year) / peak.width_days) ** 2)))
        for peak in shape.peaks
    )
    weight = (1 + shape.growth * day / days) * (1 + season)
    if shape.cohort_days is not None:
        weight = np.where(day < shape.cohort_days, weight, 0.0)
    return rng.choice(days, size=n, p=weight / weight.sum())


def _hour_of_day(rng: np.random.Generator, preferred_hour: np.ndarray) -> np.ndarray:
    """A time of day (fraction of a day) near each person's preferred hour."""
    hours = (preferred_hour + rng.normal(0, 1.5, preferred_hour.shape)) % 24
    return hours / 24


def draw_people(rng, first_person_id: int, n: int, days: int, start, shape, catalogue):
    """Latent traits and signup of `n` people with consecutive ids."""
    preferred_hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    signup = _acquisition_days(rng, n, days, start, shape) + _hour_of_day(rng, preferred_hour)
    taste = rng.dirichlet(catalogue.taste_concentration, size=n)
    people = pd.DataFrame(
        {
            "person_id": np.arange(first_person_id, first_person_id + n, dtype=np.int64),
            "signup_t": signup,
            "signup_at_checkout": rng.random(n) < shape.signup_at_checkout_share,
            "purchase_rate": rng.gamma(
                shape.purchase_rate_shape, shape.purchase_rate_mean / shape.purchase_rate_shape, n
            ),
            "dropout_prob": rng.beta(shape.dropout_a, shape.dropout_b, n),
            "spend_rate": rng.gamma(shape.spend_rate_shape, shape.spend_rate_scale, n),
            "email_engagement": rng.beta(2.5, 4.0, n),
            "preferred_hour": preferred_hour,
            **{f"taste_{i}": taste[:, i] for i in range(taste.shape[1])},
        }
    )
    if shape.whale_share > 0:
        # A lower spend rate is a higher spend level (order value = spend_shape / spend_rate).
        whale = rng.random(n) < shape.whale_share
        people.loc[whale, "spend_rate"] /= shape.whale_spend_multiple
    return people


def _gaps(rng, rate: np.ndarray, regularity: int) -> np.ndarray:
    """Days to the next order while alive: exponential, or Erlang(k) with the same mean."""
    if regularity == 1:
        return rng.exponential(1 / rate)
    return rng.gamma(regularity, 1 / (regularity * rate))


def draw_orders(rng, people: pd.DataFrame, end_t: float, gap_regularity: int) -> pd.DataFrame:
    """Every order each person places before `end_t`, and when they drop out.

    Sets `people["dropout_t"]` (time of the order after which they died, NaN if alive at end_t).
    """
    rate = people["purchase_rate"].to_numpy()
    dropout = people["dropout_prob"].to_numpy()
    hour = people["preferred_hour"].to_numpy()
    next_t = np.where(
        people["signup_at_checkout"].to_numpy(),
        people["signup_t"].to_numpy(),
        people["signup_t"].to_numpy() + rng.exponential(1 / rate),
    )
    dropout_t = np.full(len(people), np.nan)
    active = np.arange(len(people))
    order_person, order_t, order_seq = [], [], []
    seq = 0
    while active.size:
        active = active[next_t[active] < end_t]
        if not active.size:
            break
        order_person.append(active)
        order_t.append(next_t[active])
        order_seq.append(np.full(active.size, seq))
        died = rng.random(active.size) < dropout[active]
        dropout_t[active[died]] = next_t[active[died]]
        active = active[~died]
        gap = _gaps(rng, rate[active], gap_regularity)
        # Keep the day the Poisson process chose, but place the order near the person's usual hour.
        day = np.floor(next_t[active] + gap)
        tod = _hour_of_day(rng, hour[active])
        next_t[active] = np.maximum(day + tod, next_t[active] + 1 / 24)
        seq += 1
    people["dropout_t"] = dropout_t
    if not order_person:
        return pd.DataFrame({"person_index": [], "t": [], "seq": []})
    return pd.DataFrame(
        {
            "person_index": np.concatenate(order_person),
            "t": np.concatenate(order_t),
            "seq": np.concatenate(order_seq),
        }
    )


def _categories_from_taste(rng, taste: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(taste, axis=1)
    u = rng.random(len(taste)) * cumulative[:, -1]
    return (u[:, None] > cumulative).sum(axis=1)


def draw_basket(rng, catalogue: Catalogue, taste: np.ndarray, n_items: np.ndarray):
    """Product rows for baskets: `n_items[k]` products for basket k, drawn from taste row k."""
    basket = np.repeat(np.arange(len(n_items)), n_items)
    category = _categories_from_taste(rng, taste[basket])
    product_row = np.empty(len(basket), dtype=np.int64)
    for c, rows in enumerate(catalogue.rows_by_category):
        mask = category == c
        product_row[mask] = rows[rng.integers(0, len(rows), mask.sum())]
    return basket, product_row


def price_orders(rng, catalogue: Catalogue, shape: ShopShape, people, orders: pd.DataFrame):
    """Line items, discounts and refunds for the orders of one chunk.

    Each order's target value is a Gamma-Gamma draw, split over the basket and turned into whole
    units at catalogue prices by stochastic rounding (zero-unit lines are dropped, every order
    keeps one), so the realised subtotal is an unbiased draw around the person's spend level.
    """
    person = orders["person_index"].to_numpy()
    n = len(orders)
    target = rng.gamma(shape.spend_shape, 1 / people["spend_rate"].to_numpy()[person])
    n_items = 1 + np.minimum(rng.poisson(0.7, n), 4)
    taste = people[[c for c in people.columns if c.startswith("taste_")]].to_numpy()
    basket, product_row = draw_basket(rng, catalogue, taste[person], n_items)
    share = rng.gamma(1.0, 1.0, len(basket))
    share /= np.bincount(basket, weights=share, minlength=n)[basket]
    price = catalogue.price[product_row]
    units = share * target[basket] / price
    quantity = np.minimum(np.floor(units + rng.random(len(basket))), shape.max_units_per_line)
    quantity = quantity.astype(np.int32)
    first_line = np.r_[True, basket[1:] != basket[:-1]]
    empty_order = np.bincount(basket, weights=quantity, minlength=n) == 0
    quantity[first_line & empty_order[basket]] = 1
    keep = quantity > 0
    basket, product_row, quantity, price = (
        basket[keep],
        product_row[keep],
        quantity[keep],
        price[keep],
    )
    subtotal = np.round(np.bincount(basket, weights=quantity * price, minlength=n), 2)

    first_order = orders["seq"].to_numpy() == 0
    discounted = rng.random(n) < np.where(first_order, FIRST_ORDER_DISCOUNT_RATE, DISCOUNT_RATE)
    code_index = rng.integers(0, len(DISCOUNT_CODES), n)
    percent = np.array(DISCOUNT_PERCENTS)[code_index]
    total_discounts = np.where(discounted, np.round(subtotal * percent / 100, 2), 0.0)
    total = np.round(subtotal - total_discounts, 2)

    u = rng.random(n)
    partial = rng.uniform(*PARTIAL_REFUND_SHARE, n)
    refund_share = np.where(
        u < FULL_REFUND_RATE, 1.0, np.where(u < FULL_REFUND_RATE + PARTIAL_REFUND_RATE, partial, 0)
    )
    orders = orders.assign(
        subtotal=subtotal,
        total_discounts=total_discounts,
        total_price=total,
        discount_code=np.where(discounted, np.array(DISCOUNT_CODES)[code_index], None),
        refund_amount=np.round(total * refund_share, 2),
        refund_t=np.where(refund_share > 0, orders["t"].to_numpy() + rng.uniform(2, 21, n), np.nan),
        # Most orders carry UTC; a share were processed by a POS in the shop's US-Eastern zone.
        tz_offset_minutes=np.where(
            rng.random(n) < shape.pos_order_share, rng.choice([-300, -240], n), 0
        ),
    )
    lines = pd.DataFrame(
        {
            "order_index": basket,
            "product_row": product_row,
            "quantity": quantity,
            "unit_price": price,
        }
    )
    return orders, lines
