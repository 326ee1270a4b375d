"""Categories from the data: rank slots over the shop's own categories, `other` for the rest."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline.lib.modeling.categories import (
    OTHER,
    add_category_features,
    aligned,
    choose_browsed_weight,
    counted_sql,
    frame_categories,
    own_mix_log_prior,
    slot_names,
)
from pipeline.lib.modeling.explain import top_reasons


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "quantity_total": [10, 4, 0, 5],
            "category_quantities": [
                [{"category": "shoes", "quantity": 6}, {"category": "hats", "quantity": 4}],
                [{"category": "scarves", "quantity": 3}],  # a category first sold later
                [],
                [],  # bought, but nothing with a category
            ],
            "next_order_category": ["hats", "scarves", None, None],
        }
    )


def test_shares_fill_the_shops_rank_slots_and_other():
    frame = add_category_features(_customers(), ("shoes", "bags", "hats"))
    assert frame["category_share_1"].tolist()[:2] == [0.6, 0.0]
    assert frame["category_share_3"].tolist()[:2] == [0.4, 0.0]
    assert frame["category_share_other"].tolist()[:2] == [0.0, 0.75]
    assert frame["category_share_4"].isna().all()  # the shop has three categories
    assert np.isnan(frame.loc[2, "category_share_1"])  # no items: unknown, not zero
    assert frame.loc[3, "category_share_1"] == 0.0
    assert frame["top_category"].astype(object).tolist()[:2] == ["shoes", OTHER]
    assert frame["top_category"].isna().tolist()[2:] == [True, True]
    assert frame["next_order_category"].astype(object).tolist()[:2] == ["hats", OTHER]
    assert frame_categories(frame) == ("shoes", "bags", "hats")


def test_a_shop_without_categories_has_no_category_features_or_classes():
    frame = add_category_features(_customers(), ())
    shares = frame.filter(like="category_share_")
    assert shares.isna().all().all()
    assert frame["top_category"].isna().all() and frame["next_order_category"].isna().all()
    assert frame_categories(frame) == ()


def test_a_models_own_category_list_gives_the_slots_their_trained_meaning():
    today = add_category_features(_customers(), ("hats", "shoes"))  # the ranking has moved
    as_trained = aligned(today, ("shoes", "bags", "hats"))
    assert as_trained["category_share_1"].tolist()[0] == 0.6  # shoes, as in training
    assert as_trained["top_category"].astype(object).tolist()[0] == "shoes"
    assert aligned(as_trained, ("shoes", "bags", "hats")) is as_trained


def test_reasons_name_the_category_a_slot_holds():
    frame = add_category_features(_customers(), ("shoes", "bags", "hats"))
    assert slot_names(frame)["category_share_1"] == "shoes"
    contributions = np.array([[0.5], [0.0], [0.0], [0.0]])
    reasons = top_reasons(contributions, frame, ["category_share_1"])
    assert reasons[0] == ["60% of items bought were shoes"]


def test_the_next_category_prior_is_the_customers_own_mix_smoothed_by_the_shops():
    frame = add_category_features(_customers(), ("shoes", "bags", "hats"))
    shop_mix = np.array([0.1, 0.5, 0.2, 0.2])  # shoes, bags, hats, other
    prior = np.exp(own_mix_log_prior(frame, shop_mix))
    assert np.allclose(prior.sum(axis=1), 1)
    assert prior[0].argmax() == 0  # six of ten items were shoes
    assert np.isclose(prior[0, 0], (6 + 1 + 0.1) / 12)  # their top category counts once more
    assert prior[1].argmax() == 3  # scarves count as other
    assert np.allclose(prior[2], shop_mix)  # no items: the shop's mix


def _browsing_shop(customers: int, browsing_tells: bool, seed: int = 5) -> pd.DataFrame:
    """Customers with one item bought and six products browsed; their next order follows
    their taste, which the browsing follows when `browsing_tells` (else it is random)."""
    rng = np.random.default_rng(seed)
    names = ("shoes", "bags", "hats")
    taste = rng.dirichlet(np.full(3, 0.5), customers)
    bought = [rng.choice(3, p=t) for t in taste]
    looked = taste if browsing_tells else np.full((customers, 3), 1 / 3)
    browsed = [np.bincount(rng.choice(3, 6, p=t), minlength=3) for t in looked]
    return add_category_features(
        pd.DataFrame(
            {
                "quantity_total": 1,
                "category_quantities": [[{"category": names[b], "quantity": 1}] for b in bought],
                "browsed_categories": [
                    [{"category": names[c], "browsed": int(n)} for c, n in enumerate(b) if n]
                    for b in browsed
                ],
                "next_order_category": [names[rng.choice(3, p=t)] for t in taste],
            }
        ),
        names,
    )


def test_browsing_counts_in_the_prior_as_much_as_it_told_of_next_orders_in_training():
    shop_mix = np.array([0.3, 0.3, 0.3, 0.1])
    telling = _browsing_shop(3000, browsing_tells=True)
    target = telling["next_order_category"].cat.codes.to_numpy()
    weight = choose_browsed_weight(telling, shop_mix, target)
    assert weight > 0
    held_out = _browsing_shop(3000, browsing_tells=True, seed=6)
    actual = held_out["next_order_category"].cat.codes.to_numpy()
    with_browsing = own_mix_log_prior(held_out, shop_mix, weight).argmax(axis=1)
    own_top = own_mix_log_prior(held_out, shop_mix).argmax(axis=1)
    assert (with_browsing == actual).mean() > (own_top == actual).mean() + 0.03
    # Browsing that says nothing of the next order is left out; none at all, likewise.
    noise = _browsing_shop(3000, browsing_tells=False)
    target = noise["next_order_category"].cat.codes.to_numpy()
    assert choose_browsed_weight(noise, shop_mix, target) == 0.0
    assert choose_browsed_weight(add_category_features(_customers(), ("shoes",)), shop_mix[:2],
                                 np.array([0, 1, 0, 0])) == 0.0  # fmt: skip


def test_lists_counted_in_sql_give_the_same_features_as_the_lists():
    customers = _customers().assign(
        browsed_categories=[
            [{"category": "hats", "browsed": 3}],
            [],
            None,
            [{"category": "it's new", "browsed": 2}],
        ],
        top_category=["shoes", "scarves", None, None],
    )
    con = duckdb.connect()
    con.execute(
        "create table f (quantity_total integer, top_category varchar, "
        "category_quantities struct(category varchar, quantity integer)[], "
        "browsed_categories struct(category varchar, browsed integer)[])"
    )
    for row in customers.astype(object).where(customers.notna(), None).itertuples():
        con.execute(
            "insert into f values (?, ?, ?, ?)",
            [row.quantity_total, row.top_category, row.category_quantities,
             row.browsed_categories],
        )  # fmt: skip
    names = ("shoes", "it's new", "hats")
    counted = con.execute(f"select quantity_total, top_category, {counted_sql(names)} from f").df()
    from_lists = add_category_features(customers, names)
    from_counts = add_category_features(counted.assign(next_order_category=None), names)
    slots = [c for c in from_lists if c.startswith(("category_share_", "category_browsed_"))]
    pd.testing.assert_frame_equal(from_counts[slots], from_lists[slots])
    assert from_counts["top_category"].tolist() == from_lists["top_category"].tolist()
    assert from_counts["category_browsed_2"].tolist() == [0, 0, 0, 2]
    # Counts of one category list cannot stand for another's slots.
    with pytest.raises(ValueError, match="counted for other categories"):
        add_category_features(counted, ("shoes",))
