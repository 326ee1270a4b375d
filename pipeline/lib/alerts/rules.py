"""When to alert, in words a person can act on: a segment that jumped, a promoted model whose
quality dropped, a sync that stopped. Each rule returns one line per finding (no customer
data), empty when all is well."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb
import pandas as pd

from pipeline.lib.modeling.evaluate import PRIMARY_METRIC
from pipeline.lib.modeling.registry import MODEL_RUNS, served_metrics


def segment_jumps(
    movement: pd.DataFrame, max_change_share: float, min_previous_members: int
) -> list[str]:
    """Segments whose size changed by more than `max_change_share` of the previous run's size.

    Segments smaller than `min_previous_members` before are left out (a few people are a large
    share of a tiny segment), and so is a first run (there is nothing to compare with).
    """
    jumped = movement[
        movement["has_previous_run"]
        & (movement["previous_members"] >= min_previous_members)
        & (movement["change_share"].abs() > max_change_share)
    ]
    return [
        f"segment {row.segment}: {int(row.previous_members)} -> {int(row.members)} members "
        f"({row.change_share:+.0%}; {int(row.entered)} entered, {int(row.exited)} exited)"
        for row in jumped.itertuples()
    ]


def quality_drops(con: duckdb.DuckDBPyConnection, tolerance: float) -> list[str]:
    """Tasks whose champion scores more than `tolerance` (relative) worse on the task's primary
    metric than the model trained before it. The promotion rule compares both on one test
    snapshot; this compares each model's own evaluation, so it also sees the data drifting."""
    (registered,) = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'ml' and table_name = 'model_runs'"
    ).fetchone()
    if not registered:
        return []
    runs = con.execute(
        f"select task, model_version, is_champion, score_source, metrics, baseline_metrics"
        f" from {MODEL_RUNS} where metrics is not null order by task, trained_at, model_version"
    ).fetchall()
    found = []
    previous: dict[str, tuple[str, dict]] = {}
    for task, version, is_champion, source, metrics_json, baselines_json in runs:
        # What the row scores with: its model, or the baseline that serves in its place.
        metrics = served_metrics(
            source,
            json.loads(metrics_json) if metrics_json else {},
            json.loads(baselines_json) if baselines_json else {},
        )
        if task not in PRIMARY_METRIC:
            continue
        metric, larger_is_better = PRIMARY_METRIC[task]
        if is_champion and task in previous and metric in metrics:
            old_version, old = previous[task]
            new_value, old_value = metrics[metric], old.get(metric)
            if old_value is not None:
                worse_by = (old_value - new_value) if larger_is_better else (new_value - old_value)
                if worse_by > abs(old_value) * tolerance:
                    found.append(
                        f"model {task}: {metric} {new_value:.4f} (champion {version}) vs "
                        f"{old_value:.4f} for {old_version} before it"
                    )
        if metrics:
            previous[task] = (version, metrics)
    return found


def stale_syncs(
    last_synced: dict[str, datetime | None], now: datetime, max_age: timedelta
) -> list[str]:
    """Destinations whose last completed sync is older than `max_age` (never-synced ones are
    left to the run-failure alert: a shop being set up has not synced yet)."""
    return [
        f"{name}: last synced {when:%Y-%m-%d %H:%M} UTC, {_hours(now - when)} ago "
        f"(limit {_hours(max_age)})"
        for name, when in sorted(last_synced.items())
        if when is not None and now - when > max_age
    ]


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.0f} h"
