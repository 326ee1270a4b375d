"""Each person's expected order value as the simulator really prices it, for the truth export.

Grain of `expected_order_values`: one row per person (person_id, expected_subtotal,
first_net_share, repeat_net_share).

An order's drawn value is Gamma(spend_shape, rate=spend_rate), mean spend_shape / spend_rate, but
`behaviour.price_orders` turns it into whole units at catalogue prices: every order keeps at least
one unit (a draw below a product's price still buys it) and a line holds at most the shape's
`max_units_per_line`. Both shift the realised subtotal away from the drawn mean, by how much
depending on the person's spend level and taste (cheap draws are lifted most, a whale's basket is
capped). So the expected subtotal is the simulator's own pricing averaged over many orders per
person, from a generator seeded by the store's seed: the same store always has the same truth.

Discount codes and refunds are independent of the subtotal, so they scale it by an expected net
share: first orders carry a code more often than repeat ones, so the two shares differ.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from sandbox.shop.behaviour import (
    DISCOUNT_PERCENTS,
    DISCOUNT_RATE,
    FIRST_ORDER_DISCOUNT_RATE,
    FULL_REFUND_RATE,
    PARTIAL_REFUND_RATE,
    PARTIAL_REFUND_SHARE,
    price_orders,
)
from sandbox.shop.catalogue import build_catalogue
from sandbox.shop.shapes import ShopShape

# Orders priced per person: the mean's Monte Carlo error is a few percent for one person and
# vanishes in any total over many people.
ORDERS_PER_PERSON = 200
_CHUNK_PEOPLE = 2_000  # bounds memory: each chunk prices ORDERS_PER_PERSON orders per person


def expected_net_share(discount_rate: float) -> float:
    """Expected net revenue per unit of subtotal after codes (at `discount_rate`) and refunds."""
    discount = discount_rate * np.mean(DISCOUNT_PERCENTS) / 100
    refund = FULL_REFUND_RATE + PARTIAL_REFUND_RATE * np.mean(PARTIAL_REFUND_SHARE)
    return float((1 - discount) * (1 - refund))


def _mean_subtotals(rng, shape: ShopShape, people: pd.DataFrame) -> np.ndarray:
    """Mean realised subtotal of ORDERS_PER_PERSON simulated orders per row of `people`."""
    catalogue = build_catalogue(rng, shape)  # prices are fixed by the shape, not drawn
    person = np.repeat(np.arange(len(people)), ORDERS_PER_PERSON)
    orders = pd.DataFrame({"person_index": person, "t": 0.0, "seq": 1})
    priced, _ = price_orders(rng, catalogue, shape, people, orders)
    subtotal = priced["subtotal"].to_numpy(dtype=float)
    return np.bincount(person, weights=subtotal, minlength=len(people)) / ORDERS_PER_PERSON


@lru_cache(maxsize=8)
def _cached(seed: int, shape: ShopShape, traits: tuple) -> pd.DataFrame:
    person_id, spend_rate, *tastes = traits
    people = pd.DataFrame(
        {
            "spend_rate": np.asarray(spend_rate, dtype=float),
            **{f"taste_{i}": np.asarray(taste, dtype=float) for i, taste in enumerate(tastes)},
        }
    )
    rng = np.random.default_rng([seed, 7_919])  # a stream no part of the simulation uses
    means = [
        _mean_subtotals(rng, shape, people.iloc[first : first + _CHUNK_PEOPLE])
        for first in range(0, len(people), _CHUNK_PEOPLE)
    ]
    return pd.DataFrame(
        {
            "person_id": np.asarray(person_id),
            "expected_subtotal": np.concatenate(means) if means else np.array([]),
            "first_net_share": expected_net_share(FIRST_ORDER_DISCOUNT_RATE),
            "repeat_net_share": expected_net_share(DISCOUNT_RATE),
        }
    )


def expected_order_values(seed: int, shape: ShopShape, people: pd.DataFrame) -> pd.DataFrame:
    """Expected subtotal and net shares per person; `people` holds person_id, spend_rate and
    one `taste_<category>` column per category of `shape`, as the store keeps them. Cached by
    content: the truth of one store is asked for at many dates."""
    columns = ["person_id", "spend_rate"]
    columns += [f"taste_{name}" for name in shape.category_names]
    traits = tuple(tuple(people[c].tolist()) for c in columns)
    return _cached(seed, shape, traits)
