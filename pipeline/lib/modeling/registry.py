"""The model registry `ml.model_runs` and model artefacts on disk.

Grain of `ml.model_runs`: one row per (model_version, task). A version is the run's as-of date
and a hash of its config, so re-training the same thing replaces its rows instead of adding
more. Artefacts (pickled models, report, plots) live under `<artefacts>/models/<version>/`,
outside git. The champion of a task is its one row with `is_champion`; scoring uses it.

Champion/challenger: a challenger is promoted only if it beats every baseline fitted in its run
on the task's primary metric (and is at least as good on its guard metrics, e.g. ROC-AUC for the
classifiers) and is not more than `tolerance` (relative) worse than the current
champion *re-scored on the challenger's test snapshot* (metrics from different windows do not
compare). Otherwise the champion stays while it still beats every baseline on that snapshot;
when it does not (or there is none), the run's best baseline becomes the champion, so what
serves a task is never worse than the best baseline of the latest run (`choose_serving`). The
row's `score_source` says what serves: `lightgbm` or the baseline's name (`rf_logistic`,
`run_rate` — pickled like a model —, `btyd`, fitted on the scoring day's history, or
`top_category`, the customer's own top category). `decision` says why.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.lib.modeling.evaluate import (
    GUARD_METRICS,
    PRIMARY_METRIC,
    beats,
    not_materially_worse,
)

MODEL_RUNS = "ml.model_runs"


def model_version(as_of: date, config_repr: str) -> str:
    digest = hashlib.sha256(config_repr.encode()).hexdigest()[:8]
    return f"{as_of:%Y%m%d}-{digest}"


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ml")
    con.execute(
        f"""create table if not exists {MODEL_RUNS} (
            model_version varchar not null, task varchar not null, trained_at timestamp not null,
            as_of_date date not null, data_start date, data_end date, horizon_days integer,
            train_rows bigint, params json, metrics json, baseline_metrics json,
            features varchar[], artefact_path varchar, score_source varchar not null,
            is_champion boolean not null, decision varchar not null,
            primary key (model_version, task))"""
    )


def champion(con: duckdb.DuckDBPyConnection, task: str) -> dict | None:
    """The task's champion row, or None when no model was ever promoted."""
    ensure_registry(con)
    rows = con.execute(f"select * from {MODEL_RUNS} where task = ? and is_champion", [task]).df()
    return None if rows.empty else rows.iloc[0].to_dict()


@dataclass
class Decision:
    promote: bool
    reason: str


def decide(
    task: str, metrics: dict, baselines: dict[str, dict], champion_metrics: dict | None,
    tolerance: float,
) -> Decision:  # fmt: skip
    """Promote a challenger or keep the champion, with the reason in words."""
    metric, _ = PRIMARY_METRIC[task]
    for name, baseline in baselines.items():
        if not beats(task, metrics, baseline):
            return Decision(
                False,
                f"{metric} {metrics[metric]:.4f} does not beat the {name} baseline "
                f"({baseline[metric]:.4f})",
            )
        for guard, larger_is_better in GUARD_METRICS.get(task, []):
            new, old = metrics[guard], baseline[guard]
            if (new < old) if larger_is_better else (new > old):
                return Decision(
                    False, f"{guard} {new:.4f} is worse than the {name} baseline's ({old:.4f})"
                )
    if champion_metrics is None:
        return Decision(True, f"first model; beats every baseline on {metric}")
    if not not_materially_worse(task, metrics, champion_metrics, tolerance):
        return Decision(
            False,
            f"{metric} {metrics[metric]:.4f} is materially worse than the champion's "
            f"{champion_metrics[metric]:.4f} on the same test snapshot",
        )
    return Decision(
        True,
        f"beats every baseline and is within {tolerance:.0%} of the champion on {metric} "
        f"({metrics[metric]:.4f} vs {champion_metrics[metric]:.4f})",
    )


@dataclass
class Serving:
    """What scores a task after a run: `source` (lightgbm or a baseline's name), whether this
    run's row is the champion (else an earlier champion keeps serving), and why."""

    source: str
    is_champion: bool
    reason: str


def best_baseline(task: str, baselines: dict[str, dict]) -> str | None:
    """The baseline with the best primary metric (None when the run fitted none)."""
    metric, larger_is_better = PRIMARY_METRIC[task]
    ranked = sorted(baselines, key=lambda name: baselines[name][metric], reverse=larger_is_better)
    return ranked[0] if ranked else None


def choose_serving(
    task: str, metrics: dict, baselines: dict[str, dict], champion_metrics: dict | None,
    tolerance: float,
) -> Serving:  # fmt: skip
    """LightGBM when `decide` promotes it; else the current champion while it still beats every
    baseline on this run's test snapshot; else this run's best baseline."""
    decision = decide(task, metrics, baselines, champion_metrics, tolerance)
    if decision.promote:
        return Serving("lightgbm", True, "promoted: " + decision.reason)
    if champion_metrics is not None and decide(task, champion_metrics, baselines, None, 0).promote:
        return Serving("lightgbm", False, "kept champion: " + decision.reason)
    best = best_baseline(task, baselines)
    if best is None:
        return Serving("lightgbm", False, "not promoted, no baseline to serve: " + decision.reason)
    return Serving(best, True, f"not promoted, the {best} baseline serves: {decision.reason}")


def served_metrics(score_source: str, metrics: dict, baseline_metrics: dict) -> dict:
    """The test metrics of what a registry row serves: its model's, or its baseline's."""
    if score_source == "lightgbm":
        return metrics
    return baseline_metrics.get(score_source, {})


def save_model(model, folder: Path, task: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task}.pkl"
    path.write_bytes(pickle.dumps(model))
    return path


def load_model(path: str | Path):
    """A pickled model this project wrote (artefacts are local files, never downloaded)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"model artefact {path} is missing: retrain (the weekly_retrain job) to rebuild it"
        )
    return pickle.loads(path.read_bytes())


def record(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """Write one run's rows (replacing a previous run of the same version) and move the
    champion flag of each promoted task to its new row, in one transaction."""
    ensure_registry(con)
    frame = pd.DataFrame(rows)
    for column in ("params", "metrics", "baseline_metrics"):
        frame[column] = frame[column].map(lambda v: json.dumps(v, default=float))
    frame["trained_at"] = frame.get("trained_at", datetime.now())
    con.begin()
    try:
        versions = frame["model_version"].unique().tolist()
        con.execute(f"delete from {MODEL_RUNS} where list_contains(?, model_version)", [versions])
        promoted = frame.loc[frame["is_champion"], "task"].tolist()
        if promoted:
            con.execute(
                f"update {MODEL_RUNS} set is_champion = false where list_contains(?, task)",
                [promoted],
            )
        con.register("_model_runs_batch", frame)
        con.execute(f"insert into {MODEL_RUNS} by name select * from _model_runs_batch")
        con.unregister("_model_runs_batch")
        con.commit()
    except BaseException:
        con.rollback()
        raise
