"""A training run, readable at a glance: per task, our model, each baseline and the previous
champion side by side, metrics rounded, with the decision. Read from the registry
`ml.model_runs` (grain: one row per model_version × task)."""

from __future__ import annotations

import json
import math

import duckdb

from pipeline.lib.modeling.registry import MODEL_RUNS, served_metrics

DIGITS = 4


def champions(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Each task's current champion: {task: {"model_version", "metrics"}} (call it before a
    run to know what the run competed against)."""
    (registered,) = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'ml' and table_name = 'model_runs'"
    ).fetchone()
    if not registered:
        return {}
    rows = con.execute(
        f"select task, model_version, score_source, metrics, baseline_metrics from {MODEL_RUNS}"
        " where is_champion"
    ).fetchall()
    # A baseline that serves is judged by its own metrics, not by the model it beat.
    return {
        task: {"model_version": v, "metrics": served_metrics(source, _load(m), _load(b))}
        for task, v, source, m, b in rows
    }


def run_rows(con: duckdb.DuckDBPyConnection, version: str) -> list[dict]:
    rows = con.execute(
        f"select task, metrics, baseline_metrics, decision, is_champion from {MODEL_RUNS}"
        " where model_version = ? order by task",
        [version],
    ).fetchall()
    return [
        {"task": t, "metrics": _load(m), "baselines": _load(b), "decision": d, "promoted": p}
        for t, m, b, d, p in rows
    ]


def comparison(row: dict, previous: dict | None) -> tuple[list[str], list[dict]]:
    """Metric names and one record per contender of one task: `model`, each baseline, and the
    previous champion (its metrics from its own test snapshot, labelled so)."""
    contenders = [("model (this run)", row["metrics"])]
    contenders += [(f"baseline: {name}", m) for name, m in sorted(row["baselines"].items())]
    if previous and previous["metrics"]:
        label = f"previous champion {previous['model_version']} (own test window)"
        contenders.append((label, previous["metrics"]))
    metrics = sorted({name for _, values in contenders for name in values})
    records = [
        {"contender": label, **{m: _round(values.get(m)) for m in metrics}}
        for label, values in contenders
    ]
    return metrics, records


def markdown_table(metrics: list[str], records: list[dict], decision: str) -> str:
    head = "| contender | " + " | ".join(metrics) + " |"
    rule = "|---" * (len(metrics) + 1) + "|"
    body = [
        f"| {r['contender']} | " + " | ".join("" if r[m] is None else str(r[m]) for m in metrics)
        + " |"
        for r in records
    ]  # fmt: skip
    return "\n".join([head, rule, *body, "", f"**Decision:** {decision}"])


def _round(value):
    """A number rounded (not-a-number and infinities: empty), text as is, anything else as
    JSON text: a table cell holds one scalar, and the UI cannot show NaN."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return round(float(value), DIGITS) if math.isfinite(value) else None
    return json.dumps(value, default=str)


def _load(value) -> dict:
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)
