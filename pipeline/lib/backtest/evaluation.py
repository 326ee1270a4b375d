"""A backtest's scores judged against what happened after their as-of day.

Grain: one entry per task (purchase, churn, cltv, category) for one as-of day. The truth is
`marts.customer_labels` as of that day, uncensored: it exists for a horizon only when the data
covers the whole window [as-of, as-of + horizon); otherwise the task is reported as not
evaluated, with the reason. Each task is judged on the population its model is trained on
(churn: customers who had ordered; the others: everyone), with the metrics of `evaluate`, and
beside it the RFM rules (and, for CLTV, the run-rate) as a naive reference.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline.lib.modeling.baselines import run_rate
from pipeline.lib.modeling.categories import frame_categories, load_shop_categories
from pipeline.lib.modeling.datasets import HORIZONS, LABEL_COLUMNS, prepare, subset
from pipeline.lib.modeling.evaluate import amount_metrics, classification_metrics
from pipeline.lib.modeling.next_order_date import typical_gap
from pipeline.lib.modeling.report import calibration_plot, decile_plot, gain_plot, write_report
from pipeline.lib.modeling.scoring import SCORES, rules
from pipeline.lib.modeling.tasks import tasks
from pipeline.lib.modeling.training_run import RunConfig

SCORE_COLUMNS = {
    "purchase": "purchase_probability",
    "churn": "churn_probability",
    "cltv": "cltv_predicted",
    "category": "next_best_category",
}


def outcomes_frame(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """Features, true labels and scores of every scored customer as of `as_of`."""
    frame = con.execute(
        f"""select f.*, {", ".join(f"l.{c}" for c in LABEL_COLUMNS)},
            {", ".join(f"s.{c} as score_{c}" for c in SCORE_COLUMNS.values())}
        from marts.customer_features as f
        inner join {SCORES} as s using (customer_id, as_of_date)
        left join marts.customer_labels as l using (customer_id, as_of_date)
        where f.as_of_date = ?
        order by f.customer_id""",
        [as_of],
    ).df()
    if frame.empty:
        raise ValueError(f"no scored customers as of {as_of}")
    return prepare(frame, load_shop_categories(con))


def _judge(task, rows: pd.DataFrame, reference: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """Metrics of the scores and the references on `rows`, and the frame the plots read."""
    actual = task.target(rows)
    test = pd.DataFrame({"actual": actual, "model": rows[f"score_{SCORE_COLUMNS[task.name]}"]})
    if task.kind == "binary":
        test["rules"] = reference.loc[rows.index, task.name].to_numpy()
        return {
            "scores": classification_metrics(actual, test["model"].to_numpy()),
            "rfm_rules": classification_metrics(actual, test["rules"].to_numpy()),
        }, test
    if task.kind == "amount":
        test["run_rate"] = run_rate(rows, task.horizon)
        test["rules"] = reference.loc[rows.index, task.name].to_numpy()
        return {
            "scores": amount_metrics(actual, test["model"].to_numpy()),
            "rfm_rules": amount_metrics(actual, test["rules"].to_numpy()),
            "run_rate": amount_metrics(actual, test["run_rate"].to_numpy()),
        }, test
    predicted = test["model"].astype(object)
    usual = rows["top_category"].astype(object)
    truth = rows["next_order_category"].astype(object)
    return {
        "scores": {"accuracy": float((predicted == truth).mean()), "n": len(rows)},
        "top_category": {"accuracy": float((usual == truth).mean()), "n": len(rows)},
    }, test


def evaluate_backtest(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    config: RunConfig,
    sources: dict[str, str],
    prospect_rates: dict[int, float],
) -> tuple[dict, dict[str, bytes]]:
    """The evaluation (JSON-ready) and its plots (PNG bytes by name). `sources` names each
    task's scorer (lightgbm, the baseline that serves, btyd or rules; for category lightgbm /
    top_category), and `prospect_rates` are the training run's, for the RFM rules reference."""
    frame = outcomes_frame(con, as_of)
    horizons = {"purchase": config.purchase_horizon, "churn": config.churn_horizon,
                "cltv": config.cltv_horizon}  # fmt: skip
    reference = rules(frame, horizons, typical_gap(frame), prospect_rates)
    # The first day the data does not fully cover (the marts' "now").
    (data_end,) = con.execute("select max(as_of_date) from marts.customers").fetchone()
    evaluation: dict = {"as_of_date": str(as_of), "data_known_before": str(data_end), "tasks": {}}
    plots: dict[str, bytes] = {}
    for task in tasks(config.purchase_horizon, config.churn_horizon, config.cltv_horizon):
        first, last = _window(task, as_of, data_end)
        entry = {
            "horizon_days": task.horizon,
            "scored_by": sources[task.name],
            "window": {"from": str(first), "to": str(last)},
        }
        rows = subset(frame, pd.Timestamp(as_of), task.label, task.population(frame))
        if rows.empty:
            entry |= {"evaluated": False, "reason": _why_not(task, frame, as_of, data_end)}
        else:
            try:
                metrics, test = _judge(task, rows, reference)
            except ValueError as exc:  # e.g. nobody (or everybody) ordered in the window
                entry |= {"evaluated": False, "reason": str(exc)}
            else:
                entry |= {"evaluated": True, "metrics": metrics}
                plots |= _plots(task, test)
        evaluation["tasks"][task.name] = entry
    return evaluation, plots


def _window(task, as_of: date, data_end: date) -> tuple[date, date]:
    """The days whose orders a task is judged on: its horizon after `as_of`; for the category,
    the next order's, seen as far as the labels look (the longest horizon) and the data goes."""
    if task.kind == "multiclass":
        last = min(as_of + timedelta(days=max(HORIZONS) - 1), data_end - timedelta(days=1))
        return as_of, last
    return as_of, as_of + timedelta(days=task.horizon - 1)


def _why_not(task, frame: pd.DataFrame, as_of: date, data_end: date) -> str:
    """The true reason a task has nothing to be judged on."""
    if task.kind == "multiclass" and not frame_categories(frame):
        return "the order data names no product categories, so no category is predicted"
    _, last = _window(task, as_of, data_end)
    if task.kind != "multiclass" and last >= data_end:
        return (
            f"the data covers days before {data_end} only; the {task.horizon}-day window after "
            f"{as_of} needs orders through {last}"
        )
    return f"no customer of the {task.name} population has a known outcome from {as_of} to {last}"


def _plots(task, test: pd.DataFrame) -> dict[str, bytes]:
    if task.kind == "binary":  # the scores and the perfect/random lines; rules in the tables
        return {
            f"{task.name}_calibration": calibration_plot(test, f"{task.name}: calibration"),
            f"{task.name}_gain": gain_plot(test, f"{task.name}: cumulative gain"),
        }
    if task.kind == "amount":
        return {f"{task.name}_deciles": decile_plot(test, f"{task.name}: revenue by decile")}
    return {}


def write_evaluation(folder: Path, evaluation: dict, plots: dict[str, bytes]) -> Path:
    """`evaluation.json`, `report.html` and the plot PNGs in `folder`; returns the JSON path."""
    sections = {
        f"{name} ({entry['horizon_days']} days, scored by {entry['scored_by']})": entry["metrics"]
        for name, entry in evaluation["tasks"].items()
        if entry["evaluated"]
    }
    write_report(folder, f"backtest as of {evaluation['as_of_date']}", sections, plots)
    path = folder / "evaluation.json"
    path.write_text(json.dumps(evaluation, indent=2, default=_plain) + "\n")
    return path


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
