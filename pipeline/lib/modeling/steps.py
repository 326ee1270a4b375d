"""The two steps Dagster runs: train-evaluate-register (weekly) and score (daily).

`train_and_register` reads labelled snapshots before the as-of date (labels not yet known on
that date are hidden, so a past as-of date is an honest backtest), trains every task, judges
each against its baselines and the current champion, writes artefacts and the HTML report, and
records one `ml.model_runs` row per task, with a BTYD fit as of the training date for the days
until the next retrain. `score_and_write` scores every customer as of a day with the champions
(or that BTYD fit / rules) and replaces that day's `ml.customer_scores` rows.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.lib.modeling.baselines import Btyd
from pipeline.lib.modeling.datasets import (
    censor_labels,
    load_scoring_frame,
    load_training_frame,
    subset,
)
from pipeline.lib.modeling.evaluate import amount_metrics, classification_metrics, psi
from pipeline.lib.modeling.model_inputs import MODEL_FEATURES
from pipeline.lib.modeling.next_order_date import typical_gap
from pipeline.lib.modeling.registry import (
    champion,
    choose_serving,
    ensure_registry,
    load_model,
    model_version,
    record,
    save_model,
)
from pipeline.lib.modeling.report import task_plots, write_report
from pipeline.lib.modeling.scoring import SCORES, TierThresholds, score, write_scores
from pipeline.lib.modeling.training_run import RunConfig, TaskResult, train_all

# A challenger may be this much (relative) worse than the champion and still replace it.
CHAMPION_TOLERANCE = 0.02

SCORED_TASKS = ("churn", "purchase", "cltv")


def latest_feature_date(con: duckdb.DuckDBPyConnection) -> date:
    (latest,) = con.execute("select max(as_of_date) from marts.customer_features").fetchone()
    if latest is None:
        raise ValueError("marts.customer_features is empty: run the transform first")
    return latest


@dataclass
class TrainingSummary:
    version: str
    as_of: date
    rows: list[dict]
    plots: dict[str, bytes] = field(default_factory=dict)
    report_path: Path | None = None
    seconds: float = 0.0


def _champion_metrics(con, result: TaskResult, frame: pd.DataFrame) -> dict | None:
    """The current LightGBM champion re-scored on this run's test rows (None when there is
    none; a serving baseline is superseded by this run's own baselines)."""
    current = champion(con, result.task.name)
    if current is None or current["score_source"] != "lightgbm":
        return None
    model = load_model(current["artefact_path"])
    task = result.task
    test = subset(frame, result.split.tests, task.label, task.population(frame))
    predicted = model.predict(test)
    if task.kind == "binary":
        return classification_metrics(task.target(test), predicted)
    if task.kind == "amount":
        return amount_metrics(task.target(test), predicted)
    return {"accuracy": float((predicted.argmax(axis=1) == task.target(test)).mean())}


def _saved_btyd(con, as_of: date, rates: dict[int, float], folder: Path) -> str | None:
    """BG/NBD + Gamma-Gamma fitted on the history as of the training date, saved for the daily
    scoring until the next retrain (None when the shop has too few repeat buyers for one)."""
    fit = Btyd.fit_if_possible(load_scoring_frame(con, as_of), rates)
    return None if fit is None else str(save_model(fit, folder, "btyd"))


def _serving_btyd(params: dict | None, frame: pd.DataFrame, rates: dict) -> Btyd | None:
    """The BTYD fit of the latest training run, or (before any run saved one) a fit on the
    scoring day's history; None when the shop has too few repeat buyers for one.

    Refitting every day moved a small shop's population parameters by several percent a day
    (BG/NBD's dropout `b` 0.82 to 1.03 in three days on 300 customers), and with them the churn
    scores by more than the blocking shift check allows (PSI 0.23 and 1.57 on days with a PSI
    of 0.003 under one fit): the parameters change with a retrain, as a model's do.
    """
    path = (params or {}).get("btyd_artefact_path")
    if path:
        return load_model(path)
    return Btyd.fit_if_possible(frame, rates)  # None: RFM rules score instead


def train_and_register(
    con: duckdb.DuckDBPyConnection,
    config: RunConfig,
    artefacts: Path,
    as_of: date | None = None,
    tolerance: float = CHAMPION_TOLERANCE,
) -> TrainingSummary:
    began = datetime.now()
    as_of = as_of or latest_feature_date(con)
    frame = censor_labels(load_training_frame(con, as_of), pd.Timestamp(as_of))
    if frame.empty:
        raise ValueError(f"no labelled feature snapshots before {as_of}")
    version = model_version(as_of, repr(config))
    folder = artefacts / "models" / version
    run = train_all(frame, config)
    ensure_registry(con)
    shared = {
        "config": dataclasses.asdict(config),
        "prior_gap": run.prior_gap,
        "prospect_rates": run.prospect_rates,
        "next_order_mae_days": run.next_order_mae_days,
        "btyd_artefact_path": _saved_btyd(con, as_of, run.prospect_rates, folder),
    }
    summary = TrainingSummary(version, as_of, [])
    for name, result in run.results.items():
        row = {
            "model_version": version, "task": name, "trained_at": began, "as_of_date": as_of,
            "horizon_days": result.task.horizon, "train_rows": result.train_rows,
            "params": shared, "metrics": result.metrics,
            "baseline_metrics": result.baseline_metrics, "features": MODEL_FEATURES,
            "data_start": None, "data_end": None, "artefact_path": None,
        }  # fmt: skip
        if result.model is None:
            row |= {"score_source": "btyd", "is_champion": False,
                    "decision": f"fallback: {result.fallback_reason}"}  # fmt: skip
        else:
            row["data_start"], row["data_end"] = result.split.window
            model_path = str(save_model(result.model, folder, name))
            champion_metrics = _champion_metrics(con, result, frame)
            serving = choose_serving(
                name, result.metrics, result.baseline_metrics, champion_metrics, tolerance
            )
            row |= {"score_source": serving.source, "is_champion": serving.is_champion,
                    "decision": serving.reason, "artefact_path": model_path}  # fmt: skip
            # The row's artefact is what it scores with: a baseline that serves is pickled
            # beside the model (reused at scoring, never refitted); BTYD and the top category
            # are the scoring day's own, without one.
            if serving.source in result.fitted_baselines:
                baseline = result.fitted_baselines[serving.source]
                row["artefact_path"] = str(save_model(baseline, folder, f"{name}-{serving.source}"))
            elif serving.source != "lightgbm":
                row["artefact_path"] = None
            summary.plots.update(task_plots(result))
        summary.rows.append(row)
    record(con, summary.rows)
    sections = {
        row["task"]: {"model": row["metrics"], **row["baseline_metrics"]}
        for row in summary.rows
        if row["metrics"]
    }
    summary.report_path = write_report(folder, version, sections, summary.plots)
    summary.seconds = (datetime.now() - began).total_seconds()
    return summary


@dataclass
class ScoringSummary:
    as_of: date
    rows: int
    sources: dict[str, str]
    model_version: str
    purchase_psi: float | None


def _latest_run_params(con) -> dict | None:
    ensure_registry(con)
    found = con.execute(
        "select params from ml.model_runs order by trained_at desc limit 1"
    ).fetchone()
    return json.loads(found[0]) if found else None


def score_and_write(
    con: duckdb.DuckDBPyConnection, thresholds: TierThresholds, as_of: date | None = None
) -> ScoringSummary:
    as_of = as_of or latest_feature_date(con)
    frame = load_scoring_frame(con, as_of)
    params = _latest_run_params(con)
    kept = {k: v for k, v in (params or {}).get("config", {}).items() if k != "params"}
    config = RunConfig(**kept)
    horizons = {"purchase": config.purchase_horizon, "churn": config.churn_horizon,
                "cltv": config.cltv_horizon}  # fmt: skip
    rates = {int(h): r for h, r in (params or {}).get("prospect_rates", {}).items()}
    prior_gap = params["prior_gap"] if params else typical_gap(frame)
    champions = {t: champion(con, t) for t in (*SCORED_TASKS, "category")}
    # A champion with an artefact scores with it (LightGBM or a pickled baseline); one without
    # (BTYD, the top category) is the scoring day's own fallback below.
    served = {t: c for t, c in champions.items() if c and c["artefact_path"]}
    models = {t: load_model(c["artefact_path"]) for t, c in served.items()}
    model_sources = {t: c["score_source"] for t, c in served.items()}
    btyd = None
    if any(t not in models for t in SCORED_TASKS):
        btyd = _serving_btyd(params, frame, rates)
    versions = sorted({c["model_version"] for c in champions.values() if c})
    version = "+".join(versions) or f"fallback-{as_of:%Y%m%d}"
    scores = score(
        frame, models, horizons, prior_gap=prior_gap, prospect_rates=rates,
        thresholds=thresholds, model_version=version, btyd=btyd, sources=model_sources,
    )  # fmt: skip
    previous = con.execute(
        f"select purchase_probability from {SCORES} where as_of_date = "
        f"(select max(as_of_date) from {SCORES} where as_of_date < ?)",
        [as_of],
    ).df() if _table_exists(con) else pd.DataFrame()  # fmt: skip
    rows = write_scores(con, scores, as_of)
    sources = {t: model_sources.get(t) or ("btyd" if btyd else "rules") for t in SCORED_TASKS}
    drift = (
        psi(previous["purchase_probability"].dropna(), scores["purchase_probability"].dropna())
        if len(previous)
        else None
    )
    return ScoringSummary(as_of, rows, sources, version, drift)


def _table_exists(con) -> bool:
    (found,) = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'ml' and table_name = 'customer_scores'"
    ).fetchone()
    return found > 0
