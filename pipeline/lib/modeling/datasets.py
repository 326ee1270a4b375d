"""Model datasets: `marts.customer_features` joined to `marts.customer_labels`, and time splits.

Grain of every frame here: one row per (customer_id, as_of_date). Training uses the weekly
snapshots only (dbt var `feature_snapshot_isodow`), so the daily rows of the last four weeks do
not outweigh history.

The split is a rolling origin, never random across time. For a label with horizon h:
- test is the latest few snapshots whose window [D, D + h) is fully observed;
- validation is the latest few snapshots whose whole label window ends by the first test one;
- training is the snapshots before validation (at most `max_train_snapshots` of them).
So every training and validation label was known before the first test window began.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from pipeline.lib.modeling.categories import (
    COUNT_FIELDS,
    SLOT_FEATURES,
    add_category_features,
    counted_sql,
    load_shop_categories,
)
from pipeline.lib.shared_values import LABEL_HORIZONS_DAYS, SNAPSHOT_ISODOW

HORIZONS = LABEL_HORIZONS_DAYS

NUMERIC_FEATURES = [
    "days_since_first_seen", "orders_30d", "orders_90d", "orders_365d", "orders_lifetime",
    "revenue_30d", "revenue_90d", "revenue_365d", "revenue_lifetime", "avg_order_value",
    "days_since_first_order", "days_since_last_order", "mean_gap_days", "sd_gap_days",
    "recency_gap_ratio", "discount_order_share", "refund_order_share",
    *SLOT_FEATURES,
    "emails_received_30d", "emails_opened_30d", "emails_clicked_30d", "open_rate_30d",
    "click_rate_30d", "emails_received_90d", "emails_opened_90d", "emails_clicked_90d",
    "open_rate_90d", "click_rate_90d", "days_since_last_open", "days_since_last_click",
    "product_views_7d", "product_views_30d", "add_to_carts_7d", "add_to_carts_30d",
    "abandoned_checkouts_7d", "abandoned_checkouts_30d", "preferred_open_hour",
]  # fmt: skip
CATEGORICAL_FEATURES = ["top_category", "email_consent"]
FEATURES = [*NUMERIC_FEATURES, "has_ordered", *CATEGORICAL_FEATURES]
CONSENT_LEVELS = ("subscribed", "unsubscribed", "never_subscribed")

LABEL_COLUMNS = [
    "observed_days", *(f"orders_next_{h}d" for h in HORIZONS),
    *(f"revenue_next_{h}d" for h in HORIZONS), "is_churned", "days_to_next_order",
    "next_order_category",
]  # fmt: skip


def check_horizon(horizon: int) -> int:
    """Horizons are the label columns the mart has; anything else is a configuration error."""
    if horizon not in HORIZONS:
        raise ValueError(f"horizon {horizon} days has no label column; choose one of {HORIZONS}")
    return horizon


def load_training_frame(
    con: duckdb.DuckDBPyConnection, until: date, *, weekly_only: bool = True
) -> pd.DataFrame:
    """Features ⨝ labels for every labelled snapshot before `until` (the run's as-of date)."""
    weekly = f"and isodow(f.as_of_date) = {SNAPSHOT_ISODOW}" if weekly_only else ""
    categories = load_shop_categories(con)
    # The category lists arrive counted per category (`counted_sql`): as Python objects they
    # would be most of the frame's memory.
    frame = con.execute(
        f"""select f.* exclude ({", ".join(COUNT_FIELDS)}), {counted_sql(categories)},
            {", ".join(f"l.{c}" for c in LABEL_COLUMNS)}
        from marts.customer_features as f
        inner join marts.customer_labels as l using (customer_id, as_of_date)
        where f.as_of_date < ? {weekly}
        order by f.as_of_date, f.customer_id""",
        [until],
    ).df()
    return prepare(frame, categories)


def load_scoring_frame(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """The features of every customer as of `as_of` (a day on the features' spine)."""
    frame = con.execute(
        "select * from marts.customer_features where as_of_date = ? order by customer_id",
        [as_of],
    ).df()
    if frame.empty:
        raise ValueError(
            f"marts.customer_features has no rows as of {as_of}: pick a date on its spine "
            "(every Monday of the history and each of the last 28 days)"
        )
    return prepare(frame, load_shop_categories(con))


def prepare(frame: pd.DataFrame, categories: tuple[str, ...]) -> pd.DataFrame:
    """Types LightGBM and the baselines rely on: dates as datetimes, fixed category levels, and
    the category slot features of the shop's ranked `categories` (see `categories`)."""
    derived = {*SLOT_FEATURES, "top_category"}
    contract = set(FEATURES) - derived | {*COUNT_FIELDS, "quantity_total"}
    # A category list may arrive counted per category (`counted_sql`).
    counted = {str(c).split("@", 1)[0] for c in frame.columns}
    missing = sorted(contract - set(frame.columns) - counted)
    if missing:
        raise ValueError(f"customer features lack the contract's columns: {missing}")
    unknown = set(frame["email_consent"].dropna().astype(str)) - set(CONSENT_LEVELS)
    if unknown:
        # A level the models were not built for would silently become "missing".
        raise ValueError(f"email_consent has values outside {CONSENT_LEVELS}: {sorted(unknown)}")
    frame = add_category_features(frame, categories)
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"])
    frame["has_ordered"] = frame["has_ordered"].astype(bool)
    frame["email_consent"] = pd.Categorical(frame["email_consent"], categories=CONSENT_LEVELS)
    for column in NUMERIC_FEATURES:
        frame[column] = frame[column].astype("float64")
    return frame


def feature_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The model inputs in a fixed column order."""
    matrix = frame[FEATURES].copy()
    matrix["has_ordered"] = matrix["has_ordered"].astype("float64")
    return matrix


@dataclass(frozen=True)
class TimeSplit:
    """Snapshot dates of one label's rolling-origin split."""

    horizon: int
    train: tuple[pd.Timestamp, ...]
    validation: tuple[pd.Timestamp, ...]
    tests: tuple[pd.Timestamp, ...]

    @property
    def test(self) -> pd.Timestamp:
        """The latest test snapshot."""
        return self.tests[-1]

    @property
    def window(self) -> tuple[date, date]:
        """The data window: first training snapshot to the end of the test label window."""
        end = self.test + timedelta(days=self.horizon)
        return self.train[0].date(), end.date()


def time_split(
    snapshots: pd.Series,
    horizon: int,
    *,
    max_train_snapshots: int = 26,
    test_snapshots: int = 4,
    validation_snapshots: int = 4,
    gap_before_validation: bool = False,
    min_gapped_share: float = 0.5,
) -> TimeSplit | None:
    """The split for a label observed at `snapshots`; None when history is too short for one.

    Tests are the latest `test_snapshots` labelled snapshots (judging on several evens out one
    week's dynamics); validation the latest `validation_snapshots` whose label window ends by
    the first test snapshot; training the snapshots before validation. So a horizon h needs
    labelled snapshots spanning h days plus at least two weeks, i.e. about 2h + 2 weeks of
    history (365 days: a little over two years); with little history fewer snapshots are used.
    With `gap_before_validation`, training keeps only snapshots whose label window ends by the
    first validation snapshot: validation then lies as far beyond what the model learnt from as
    the tests lie beyond validation, and the scoring day beyond the latest labels, so early
    stopping keeps only what carries across a horizon of drift. The gap gives way (training
    keeps every snapshot before validation) when it would leave no snapshot, or fewer than
    `min_gapped_share` of the labelled rows the ungapped training snapshots hold: `snapshots`
    has one entry per labelled row, so on a young or fast-growing shop, whose early weeks hold
    few customers, the gap would leave the model far less to learn from than its baselines.
    """
    rows = pd.to_datetime(pd.Series(snapshots).dropna()).value_counts()
    dates = sorted(rows.index)
    if not dates:
        return None
    step = pd.Timedelta(days=horizon)
    for n_tests in range(min(test_snapshots, len(dates)), 0, -1):
        tests = dates[-n_tests:]
        before_test = [d for d in dates if d + step <= tests[0]]
        if len(before_test) >= 2:
            break
    else:
        return None
    validation = before_test[-min(validation_snapshots, len(before_test) - 1) :]
    train = [d for d in dates if d < validation[0]][-max_train_snapshots:]
    gapped = [d for d in dates if d + step <= validation[0]][-max_train_snapshots:]
    if gap_before_validation and rows[gapped].sum() >= min_gapped_share * rows[train].sum() > 0:
        train = gapped
    return TimeSplit(horizon, tuple(train), tuple(validation), tuple(tests))


def labelled_snapshots(frame: pd.DataFrame, label: str) -> pd.Series:
    """Snapshot dates where `label` is observed for at least one row."""
    return frame.loc[frame[label].notna(), "as_of_date"]


def subset(frame: pd.DataFrame, dates, label: str, population: np.ndarray | None = None):
    """Rows at `dates` with `label` observed (and in `population` when given)."""
    dates = [dates] if isinstance(dates, pd.Timestamp) else list(dates)
    mask = frame["as_of_date"].isin(dates) & frame[label].notna()
    if population is not None:
        mask &= population
    return frame.loc[mask]


def censor_labels(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Hide every label that was not yet known on `as_of` (a backtest must not see its future):
    a horizon's columns wherever its window passes `as_of`, and next-order facts after it."""
    frame = frame.copy()
    as_of = pd.Timestamp(as_of)
    for h in HORIZONS:
        unknown = frame["as_of_date"] + pd.Timedelta(days=h) > as_of
        frame.loc[unknown, [f"orders_next_{h}d", f"revenue_next_{h}d"]] = np.nan
    # A shop where every labelled row has a churn answer (e.g. a CSV-only shop: everyone has
    # ordered) reads the column as plain bool, which cannot hold "unknown".
    frame["is_churned"] = frame["is_churned"].astype(object)
    frame.loc[frame["as_of_date"] + pd.Timedelta(days=90) > as_of, "is_churned"] = None
    next_at = frame["as_of_date"] + pd.to_timedelta(frame["days_to_next_order"], unit="D")
    unknown_next = next_at.isna() | (next_at >= as_of)
    frame.loc[unknown_next, ["days_to_next_order", "next_order_category"]] = None
    return frame
