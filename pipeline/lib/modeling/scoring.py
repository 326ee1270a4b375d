"""Daily scores: `ml.customer_scores`, one row per (customer_id, as_of_date).

Each score comes from the task's champion: a LightGBM model, or the baseline that was best in
the latest training run when LightGBM was not promoted (a pickled RF-logistic or run-rate, reused
as fitted). Without a champion that has an artefact, BG/NBD + Gamma-Gamma fitted on the scoring
day's history scores, else RFM rules (a shop with too few repeat buyers for BTYD).
`score_source` names what scored the row: one source ("lightgbm" means every score on the row
is LightGBM's), or `task:source` pairs when the tasks differ (`row_source`); `ml.model_runs`
has each task's source. Writing is idempotent per as-of date: that date's rows are replaced,
and a row a re-run reproduces exactly keeps its first `scored_at` — so re-running a scoring
partition gives the same table and changes no synced profile property.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from pipeline.lib.modeling.baselines import Btyd
from pipeline.lib.modeling.estimators import TrainedModel
from pipeline.lib.modeling.explain import top_reasons
from pipeline.lib.modeling.next_order_date import expected_days_to_next_order
from pipeline.lib.shared_values import (
    CHURN_HIGH_MIN_PROBABILITY,
    CHURN_MEDIUM_MIN_PROBABILITY,
    PURCHASE_HIGH_MIN_PROBABILITY,
    PURCHASE_MEDIUM_MIN_PROBABILITY,
)

SCORES = "ml.customer_scores"


@dataclass(frozen=True)
class TierThresholds:
    """Probability cut-offs for churn/purchase tiers (by default the segments' cut-offs, so a
    profile's tier matches its segment); CLTV tiers by the day's quantiles."""

    churn_high: float = CHURN_HIGH_MIN_PROBABILITY
    churn_medium: float = CHURN_MEDIUM_MIN_PROBABILITY
    purchase_high: float = PURCHASE_HIGH_MIN_PROBABILITY
    purchase_medium: float = PURCHASE_MEDIUM_MIN_PROBABILITY
    cltv_high_quantile: float = 0.8
    cltv_medium_quantile: float = 0.5
    # A next order date only for people more likely than not to order within the churn horizon.
    next_order_max_churn: float = 0.5


def tier(values: pd.Series, high: float, medium: float) -> pd.Series:
    labels = np.where(values >= high, "high", np.where(values >= medium, "medium", "low"))
    return pd.Series(labels, index=values.index, dtype=object).where(values.notna())


def rules(frame: pd.DataFrame, horizons: dict[str, int], prior_gap: float, prospect_rates):
    """RFM rules: a customer orders about once per usual gap while active, and is less likely
    to be active the further past their usual gap they are (exp of the overdue gaps)."""
    gap = frame["mean_gap_days"].fillna(prior_gap)
    overdue = (frame["days_since_last_order"] / gap - 1).clip(lower=0)
    active = np.exp(-overdue)
    buyers = frame["has_ordered"]

    def p_order(h: int) -> pd.Series:
        p = active * (1 - np.exp(-h / gap))
        return p.where(buyers, prospect_rates.get(h, 0.0))

    expected_orders = (active * horizons["cltv"] / gap).where(buyers, 0.0)
    return pd.DataFrame(
        {
            "purchase": p_order(horizons["purchase"]),
            "churn": (1 - p_order(horizons["churn"])).where(buyers),
            "cltv": expected_orders * frame["avg_order_value"].fillna(0),
        }
    )


def _reason_direction(tiers: pd.Series, contributions: np.ndarray) -> np.ndarray:
    """+1 where the reasons should say what lifts the score, -1 where what holds it down: by the
    tier (high lifts, low holds down); a medium row follows the side of the model's average its
    score sits on (the sign of its summed contributions)."""
    above_average = np.where(contributions.sum(axis=1) >= 0, 1.0, -1.0)
    tiers = tiers.to_numpy(dtype=object)
    return np.where(tiers == "high", 1.0, np.where(tiers == "low", -1.0, above_average))


def score(
    frame: pd.DataFrame,
    models: dict[str, TrainedModel | None],
    horizons: dict[str, int],
    *,
    prior_gap: float,
    prospect_rates: dict[int, float],
    thresholds: TierThresholds,
    model_version: str,
    btyd: Btyd | None = None,
    sources: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The contract's columns for every row of `frame` (one as-of date). `models` score their
    task (`predict(frame)`); `sources` names each one's kind (default lightgbm). Only LightGBM
    models give reasons and a CLTV range."""
    out = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy()}, index=frame.index)
    out["as_of_date"] = frame["as_of_date"].dt.date
    buyers = frame["has_ordered"]
    ruled = rules(frame, horizons, prior_gap, prospect_rates)
    model_sources = sources or {}
    sources = {}
    # Each LightGBM model's inputs and starts, computed once for its scores, range and reasons.
    prepared = {
        task: model.rows(frame)
        for task, model in models.items()
        if task in ("churn", "purchase", "cltv") and isinstance(model, TrainedModel)
    }
    for task, column in (("churn", "churn_probability"), ("purchase", "purchase_probability"),
                         ("cltv", "cltv_predicted")):  # fmt: skip
        model = models.get(task)
        if model is not None:
            out[column] = model.predict(prepared.get(task, frame))
            sources[task] = model_sources.get(task, "lightgbm")
        elif btyd is not None:
            predicted = btyd.predict(frame, horizons[task])
            out[column] = predicted[
                {"churn": "p_no_order", "purchase": "p_order", "cltv": "expected_revenue"}[task]
            ]
            sources[task] = "btyd"
        else:
            out[column] = ruled[task]
            sources[task] = "rules"
    out["churn_probability"] = out["churn_probability"].where(buyers)
    cltv_model = models.get("cltv")
    if isinstance(cltv_model, TrainedModel):
        out["cltv_p10"], out["cltv_p90"] = cltv_model.predict_interval(prepared["cltv"])
    else:
        # Without quantile models the range is unknown, not zero-width: leave it null.
        out["cltv_p10"] = out["cltv_p90"] = np.nan
    out["churn_tier"] = tier(out["churn_probability"], thresholds.churn_high,
                             thresholds.churn_medium)  # fmt: skip
    out["purchase_tier"] = tier(out["purchase_probability"], thresholds.purchase_high,
                                thresholds.purchase_medium)  # fmt: skip
    cltv = out["cltv_predicted"]
    out["cltv_tier"] = tier(cltv, cltv.quantile(thresholds.cltv_high_quantile),
                            cltv.quantile(thresholds.cltv_medium_quantile))  # fmt: skip
    no_reasons = pd.Series([[] for _ in range(len(frame))], index=frame.index, dtype=object)
    for task in ("churn", "purchase", "cltv"):
        out[f"{task}_reasons"] = no_reasons
        model = models.get(task)
        if not isinstance(model, TrainedModel):
            continue  # baselines and fallbacks have no contributions to explain
        # Churn says nothing about people who never ordered: explain buyers only.
        rows = buyers.to_numpy() if task == "churn" else np.ones(len(frame), dtype=bool)
        explained = prepared[task].take(rows)
        inputs = explained.inputs
        contributions = model.contributions(inputs, explained)
        direction = _reason_direction(out.loc[rows, f"{task}_tier"], contributions)
        as_of = explained.frame["as_of_date"]
        reasons = top_reasons(contributions, inputs, model.features, direction, as_of=as_of)
        out.loc[rows, f"{task}_reasons"] = pd.Series(reasons, index=inputs.index, dtype=object)
    category_model = models.get("category")
    if category_model is not None:
        best = category_model.predict(frame).argmax(axis=1)
        out["next_best_category"] = np.array(category_model.classes, dtype=object)[best]
    else:
        out["next_best_category"] = frame["top_category"].astype(object)
    out["expected_next_order_date"] = expected_next_order_date(
        frame, out["churn_probability"], prior_gap, thresholds.next_order_max_churn
    )
    out["model_version"] = model_version
    out["score_source"] = row_source(sources)
    out["scored_at"] = datetime.now().replace(microsecond=0)
    return out.reset_index(drop=True)


def row_source(sources: dict[str, str]) -> str:
    """One source when every task shares it, else `task:source` pairs in task order."""
    if len(set(sources.values())) == 1:
        return next(iter(sources.values()))
    return ",".join(f"{task}:{source}" for task, source in sources.items())


def expected_next_order_date(
    frame: pd.DataFrame, churn: pd.Series, prior_gap: float, max_churn: float
) -> pd.Series:
    """The day the customer's own rhythm puts their next order on, given only where they are
    likely still active (churn probability below `max_churn`): a date for someone who has
    probably left would put them in replenishment campaigns they will not answer."""
    days = expected_days_to_next_order(frame, prior_gap).where(churn < max_churn)
    dates = (frame["as_of_date"] + pd.to_timedelta(days, unit="D")).dt.date
    return dates.astype(object).where(days.notna(), None)


def write_scores(con: duckdb.DuckDBPyConnection, scores: pd.DataFrame, as_of: date) -> int:
    """Replace the as-of date's scores in one transaction; returns rows written."""
    if scores["customer_id"].duplicated().any():
        raise ValueError("scores must hold one row per customer")
    con.execute("create schema if not exists ml")
    con.execute(
        f"""create table if not exists {SCORES} (
            customer_id varchar not null, as_of_date date not null,
            churn_probability double, purchase_probability double,
            cltv_predicted double, cltv_p10 double, cltv_p90 double,
            churn_tier varchar, purchase_tier varchar, cltv_tier varchar,
            next_best_category varchar, expected_next_order_date date,
            churn_reasons varchar[], purchase_reasons varchar[], cltv_reasons varchar[],
            model_version varchar not null, score_source varchar not null,
            scored_at timestamp not null, primary key (customer_id, as_of_date))"""
    )
    unchanged = " and ".join(
        ["o.customer_id = b.customer_id"]
        + [f"o.{c} is not distinct from b.{c}" for c in scores.columns
           if c not in ("customer_id", "scored_at")]
    )  # fmt: skip
    con.begin()
    try:
        con.register("_scores_batch", scores)
        con.execute(
            f"create or replace temp table _previous_scores as "
            f"select * from {SCORES} where as_of_date = ?",
            [as_of],
        )
        con.execute(f"delete from {SCORES} where as_of_date = ?", [as_of])
        con.execute(
            f"insert into {SCORES} by name "
            f"select b.* replace (coalesce(o.scored_at, b.scored_at) as scored_at) "
            f"from _scores_batch b left join _previous_scores o on {unchanged}"
        )
        con.execute("drop table _previous_scores")
        con.unregister("_scores_batch")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return len(scores)
