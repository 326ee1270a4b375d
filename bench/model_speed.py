"""Training time and scoring throughput at sizes the sandbox store does not reach.

Both tile a real frame from the store's marts (each copy of a customer gets its own id), so
values, nulls and label balance are the store's; LightGBM's training cost depends on rows and
trees, not on whether rows repeat. Explaining does depend on it (contributions are asked once
per pattern of split sides), so the scoring copies after the first have their measurements
jittered (±10% per row and column): a million customers then fall into as many patterns as a
million distinct customers would. Scoring is the daily step without the read: scores and
reasons for every row, then the replace-by-date write into a scratch DuckDB file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline.lib.modeling.estimators import TrainedModel
from pipeline.lib.modeling.next_order_date import typical_gap
from pipeline.lib.modeling.scoring import TierThresholds, score, write_scores
from pipeline.lib.modeling.training_run import RunConfig, train_all


def jittered(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """`frame` with every float measurement scaled by its own factor in [0.9, 1.1] (nulls and
    zeros stay what they are)."""
    rng = np.random.default_rng(seed)
    columns = frame.select_dtypes("float").columns
    factors = rng.uniform(0.9, 1.1, (len(frame), len(columns)))
    return frame.assign(**{c: frame[c] * factors[:, i] for i, c in enumerate(columns)})


def tile(
    frame: pd.DataFrame, rows_or_customers: int, *, by_customer: bool, jitter: bool = False
) -> pd.DataFrame:
    """`frame` repeated until it holds `rows_or_customers` rows (or distinct customers), copies
    after the first `jittered` when asked."""
    unit = frame["customer_id"].nunique() if by_customer else len(frame)
    copies = int(np.ceil(rows_or_customers / unit))
    tiled = pd.concat(
        [
            (jittered(frame, seed=k) if jitter and k else frame).assign(
                customer_id=frame["customer_id"] + f"~{k}"
            )
            for k in range(copies)
        ],
        ignore_index=True,
    )
    if by_customer:
        keep = tiled["customer_id"].drop_duplicates().iloc[:rows_or_customers]
        return tiled.loc[tiled["customer_id"].isin(keep)].reset_index(drop=True)
    return tiled.iloc[:rows_or_customers].reset_index(drop=True)


@dataclass
class TrainingTime:
    customers: int
    snapshots: int
    rows: int
    seconds: float
    tasks: dict[str, float]


def time_training(frame: pd.DataFrame, customers: int, weeks: int, config: RunConfig):
    """One training run (every task and its baselines) on `customers` × the last `weeks`
    weekly snapshots of `frame`."""
    snapshots = sorted(frame["as_of_date"].unique())[-weeks:]
    recent = frame.loc[frame["as_of_date"].isin(snapshots)]
    tiled = tile(recent, customers, by_customer=True)
    began = time.perf_counter()
    run = train_all(tiled, config)
    seconds = time.perf_counter() - began
    per_task = {name: round(r.seconds, 1) for name, r in run.results.items() if r.model}
    return TrainingTime(customers, len(snapshots), len(tiled), seconds, per_task)


@dataclass
class ScoringSpeed:
    rows: int
    score_seconds: float
    write_seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / (self.score_seconds + self.write_seconds)


def time_scoring(
    frame: pd.DataFrame, models: dict[str, TrainedModel], rows: int, scratch: Path
) -> ScoringSpeed:
    """Score `rows` customers (one as-of date) with `models` and write them."""
    tiled = tile(frame, rows, by_customer=False, jitter=True)
    horizons = {name: model.horizon for name, model in models.items()}
    began = time.perf_counter()
    scores = score(
        tiled, models, horizons, prior_gap=typical_gap(frame), prospect_rates={},
        thresholds=TierThresholds(), model_version="bench",
    )  # fmt: skip
    scored = time.perf_counter()
    scratch.unlink(missing_ok=True)
    with duckdb.connect(str(scratch)) as con:
        write_scores(con, scores, tiled["as_of_date"].iloc[0].date())
    written = time.perf_counter()
    scratch.unlink(missing_ok=True)
    return ScoringSpeed(len(tiled), scored - began, written - scored)
