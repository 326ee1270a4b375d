"""The shop's categories as model inputs and outputs: rank slots over what the shop sells.

`marts.shop_categories` ranks the categories in the data by items sold (the top `category_count`,
a dbt var); everything else is `other`. Features carry each customer's items per category by
name (`category_quantities`), so the models see fixed-width rank slots: `category_share_1` is the
share of the customer's items in the shop's best-selling category, and so on, then
`category_share_other`. A shop with fewer categories leaves the higher slots empty; a shop
without categories leaves them all empty and predicts no category.

The next-category model boosts from each customer's own mix (`own_mix_log_prior`): what they
have bought, their top category first, and what they have browsed (products viewed or added to
a cart, `browsed_categories`, weighted by how much browsing told of next orders in training),
smoothed toward the shop's mix of next orders, so it starts where "their usual category" and
their recent interest stand and learns only what the validation weeks support beyond it.

A model keeps the category list it was trained with (the levels of `top_category`), so scoring
rebuilds the slots with that list even when the ranking has moved since: a slot always means the
category the model learnt it as. A category the list does not name, e.g. one the shop started
selling after training, counts as `other`.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

OTHER = "other"
MAX_CATEGORY_SLOTS = 12
SLOT_FEATURES = [*(f"category_share_{rank}" for rank in range(1, MAX_CATEGORY_SLOTS + 1)),
                 "category_share_other"]  # fmt: skip
# Products browsed per slot (counts): the prior's, not model inputs.
BROWSED_SLOTS = [*(f"category_browsed_{rank}" for rank in range(1, MAX_CATEGORY_SLOTS + 1)),
                 "category_browsed_other"]  # fmt: skip


def load_shop_categories(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The shop's ranked categories (best-selling first); none when the data has none."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'shop_categories'"
    ).fetchone()[0]
    if not exists:
        return ()
    rows = con.execute("select category from marts.shop_categories order by category_rank")
    categories = tuple(category for (category,) in rows.fetchall())
    if len(categories) > MAX_CATEGORY_SLOTS:
        raise ValueError(
            f"marts.shop_categories names {len(categories)} categories; the models have "
            f"{MAX_CATEGORY_SLOTS} category slots: set dbt var category_count to at most that"
        )
    return categories


def levels(categories: tuple[str, ...]) -> tuple[str, ...]:
    """The classes a category can take: the shop's categories, then `other` (if it has any)."""
    return (*categories, OTHER) if categories else ()


def frame_categories(frame: pd.DataFrame) -> tuple[str, ...]:
    """The category list a prepared frame was built with (its `top_category` levels)."""
    return tuple(c for c in frame["top_category"].cat.categories if c != OTHER)


def _named(values: pd.Series, categories: tuple[str, ...]) -> pd.Categorical:
    if not categories:  # nothing to name: a shop without categories predicts none
        return pd.Categorical([None] * len(values), categories=[])
    known = set(categories)
    named = values.astype(object).map(
        lambda v: v if v is None or v in known else OTHER, na_action="ignore"
    )
    return pd.Categorical(named, categories=levels(categories))


def add_category_features(frame: pd.DataFrame, categories: tuple[str, ...]) -> pd.DataFrame:
    """Slot shares, `top_category` and (when present) `next_order_category` for `categories`.

    Shares are of all items bought (items without a category count in the total); they are
    null for a customer without items and for slots the shop does not have.
    """
    frame = frame.copy()
    total = frame["quantity_total"].astype("float64").where(lambda q: q > 0)
    shares = _slot_counts(frame, "category_quantities", categories)
    shares /= total.to_numpy()[:, None]
    browsed = _slot_counts(frame, "browsed_categories", categories)
    for rank in range(1, MAX_CATEGORY_SLOTS + 1):
        frame[f"category_share_{rank}"] = shares[:, rank - 1] if rank <= len(categories) else np.nan
        frame[f"category_browsed_{rank}"] = browsed[:, rank - 1] if rank <= len(categories) else 0
    frame["category_share_other"] = shares[:, -1] if categories else np.nan
    frame["category_browsed_other"] = browsed[:, -1] if categories else 0
    # From the items by name (largest first), so a realigned frame names its raw top category;
    # a frame loaded already counted has the mart's (the same name).
    if "category_quantities" in frame:
        top = [
            items[0]["category"] if items is not None and len(items) else None
            for items in frame["category_quantities"]
        ]
        top = pd.Series(top, index=frame.index, dtype=object)
    else:
        top = frame["top_category"].astype(object)
        top = top.where(top.notna(), None)
    frame["top_category"] = _named(top, categories)
    if "next_order_category" in frame:
        frame["next_order_category"] = _named(frame["next_order_category"], categories)
    return frame


# The count each category list holds per entry.
COUNT_FIELDS = {"category_quantities": "quantity", "browsed_categories": "browsed"}


def _counted(column: str, category: str) -> str:
    """The column a list counted in SQL (`counted_sql`) has for `category` ('' for other)."""
    return f"{column}@{category}"


def counted_sql(categories: tuple[str, ...]) -> str:
    """Select-list SQL over the features mart (as `f`) counting both category lists into a
    column per category and one for the rest: a training frame of a million weekly rows then
    holds numbers, not a Python dict per list entry (300 MB per list at 10,000 customers)."""

    def literal(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    known = ", ".join(literal(c) for c in categories)
    parts = []
    for column, field in COUNT_FIELDS.items():
        for category, keep in [
            *((c, f"x.category = {literal(c)}") for c in categories),
            ("", f"x.category not in ({known})" if known else "true"),
        ]:
            entries = f"list_filter(f.{column}, lambda x: {keep})"
            total = f"list_sum(list_transform({entries}, lambda x: x.{field}))"
            parts.append(f'cast(coalesce({total}, 0) as double) as "{_counted(column, category)}"')
    return ",\n".join(parts)


def _slot_counts(frame: pd.DataFrame, column: str, categories: tuple[str, ...]) -> np.ndarray:
    """Rows × (categories, other): the counts of `frame`'s `column` list (see `COUNT_FIELDS`),
    or of the columns it was counted into for exactly these categories."""
    counted = [_counted(column, c) for c in (*categories, "")]
    loaded = {c for c in frame.columns if str(c).startswith(f"{column}@")}
    if loaded:
        if loaded != set(counted):
            raise ValueError(
                f"{column} was counted for other categories than {list(categories)}: "
                "load the frame with its category lists to realign it"
            )
        return np.array(frame[counted], dtype="float64")  # a copy: the shares divide it
    if column not in frame:  # a frame from before browsing was recorded browsed nothing
        return np.zeros((len(frame), len(categories) + 1))
    slot_of = {name: rank for rank, name in enumerate(categories)}
    field = COUNT_FIELDS[column]
    counts = np.zeros((len(frame), len(categories) + 1))
    for row, entries in enumerate(frame[column].to_numpy()):
        for entry in () if entries is None else entries:
            counts[row, slot_of.get(entry["category"], len(categories))] += entry[field]
    return counts


def aligned(frame: pd.DataFrame, categories: tuple[str, ...]) -> pd.DataFrame:
    """`frame` with its category features rebuilt for `categories` (a model's own list)."""
    if frame_categories(frame) == tuple(categories):
        return frame
    return add_category_features(frame, tuple(categories))


def slot_names(frame: pd.DataFrame) -> dict[str, str]:
    """Slot feature → the category it holds in `frame`, for reasons in words."""
    if not isinstance(frame.get("top_category", pd.Series()).dtype, pd.CategoricalDtype):
        return {}
    names = {f"category_share_{rank}": name for rank, name in enumerate(frame_categories(frame), 1)}
    return {**names, "category_share_other": "other categories"}


# How many items' worth of the shop's mix smooths a customer's own mix: one, so a customer
# with a single item leans on it, and one with many on their own.
PRIOR_ITEMS = 1.0


def own_mix_log_prior(
    frame: pd.DataFrame, shop_mix: np.ndarray, browsed_weight: float = 0.0
) -> np.ndarray:
    """Log-probabilities (rows × classes) of the next order's category from the customer's
    own items per class plus `browsed_weight` items per product browsed in the class, smoothed
    by `PRIOR_ITEMS` of the shop's mix (`shop_mix`, over the same classes). `frame` is built
    for the model's categories (see `aligned`)."""
    categories = frame_categories(frame)
    slots = [f"category_share_{rank}" for rank in range(1, len(categories) + 1)]
    shares = frame[[*slots, "category_share_other"]].fillna(0).to_numpy(dtype="float64")
    items = frame["quantity_total"].fillna(0).to_numpy(dtype="float64")[:, None]
    browsed = [*BROWSED_SLOTS[: len(categories)], "category_browsed_other"]
    browsed = frame[browsed].to_numpy(dtype="float64")
    mix = shares * items + browsed_weight * browsed + PRIOR_ITEMS * shop_mix[None, :]
    # One more item of their top category: ties among their own categories, which the shop's
    # mix (less than one item in all) would otherwise break, go to it, so the prior's pick is
    # exactly "their top category".
    top = frame["top_category"].cat.codes.to_numpy()
    has_top = top >= 0
    mix[np.flatnonzero(has_top), top[has_top]] += PRIOR_ITEMS
    return np.log(mix / mix.sum(axis=1, keepdims=True))


# Items one browsed product may count as: none (browsing tells nothing of the next order) up
# to two; training picks (`choose_browsed_weight`).
BROWSED_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)


def choose_browsed_weight(frame: pd.DataFrame, shop_mix: np.ndarray, target: np.ndarray) -> float:
    """The `BROWSED_WEIGHTS` under which the prior's pick is most often `frame`'s next order
    (`target`, class codes), the smallest of equals: the task is judged on its pick, and a
    likelihood would reward browsing that merely smooths a one-item history. 0 when the frame
    has browsed nothing."""
    if not frame[BROWSED_SLOTS].to_numpy().any():
        return 0.0
    hits = {w: int((own_mix_log_prior(frame, shop_mix, w).argmax(axis=1) == target).sum())
            for w in BROWSED_WEIGHTS}  # fmt: skip
    return max(BROWSED_WEIGHTS, key=lambda w: (hits[w], -w))
