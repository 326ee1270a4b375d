"""Score distributions and tier counts of a scoring day against the previous scoring day
(`ml.customer_scores`, grain customer × as_of_date)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipeline.lib.reporting.plots import png, subplots

SCORES = "ml.customer_scores"
PROBABILITIES = ("churn_probability", "purchase_probability")
TIERS = ("churn_tier", "purchase_tier", "cltv_tier")


def previous_day(con: duckdb.DuckDBPyConnection, as_of):
    (day,) = con.execute(
        f"select max(as_of_date) from {SCORES} where as_of_date < ?", [as_of]
    ).fetchone()
    return day


def tier_counts(con: duckdb.DuckDBPyConnection, as_of) -> pd.DataFrame:
    """One row per (score, tier): customers today, on the previous scoring day, the change."""
    before = previous_day(con, as_of)
    parts = [
        f"select '{tier}' as score, {tier} as tier, as_of_date from {SCORES}"
        f" where as_of_date in (?, ?) and {tier} is not null"
        for tier in TIERS
    ]
    frame = con.execute(
        "select score, tier, count(*) filter (where as_of_date = ?) as today,"
        " count(*) filter (where as_of_date = ?) as previous_day"
        f" from ({' union all '.join(parts)}) group by all order by all",
        [as_of, before, *([as_of, before] * len(TIERS))],
    ).df()
    frame["change"] = frame["today"] - frame["previous_day"]
    return frame


def distribution_plot(con: duckdb.DuckDBPyConnection, as_of) -> bytes:
    """Histograms of each probability and of predicted CLTV, today against the previous day."""
    before = previous_day(con, as_of)
    columns = (*PROBABILITIES, "cltv_predicted")
    fig, axes = subplots(1, len(columns), figsize=(12, 3.5))
    for ax, column in zip(axes, columns, strict=True):
        for day, label in ((before, f"previous ({before})"), (as_of, f"today ({as_of})")):
            if day is None:
                continue
            values = con.execute(
                f"select {column} from {SCORES} where as_of_date = ? and {column} is not null",
                [day],
            ).fetchnumpy()[column]
            if len(values):
                bins = np.linspace(0, 1, 21) if column in PROBABILITIES else 20
                ax.hist(values, bins=bins, alpha=0.5, label=label)
        ax.set(title=column, ylabel="customers")
        ax.legend(fontsize=7)
    return png(fig)
