"""Backtest on an order-history CSV: import → dbt → train → score as of a past day, in a
warehouse of its own.

Everything lives in one folder (`data/backtest/<name>/` by default): `warehouse.duckdb`, dbt's
target and logs, the model artefacts and the evaluation. The warehouse is rebuilt from scratch on
every run, so a re-run gives the same result and the user's main warehouse is never touched.

Point in time: dbt builds the whole CSV (the labels after the as-of day are what the backtest is
judged on), but the training run's as-of date is the backtest day, so it learns only from labels
already known then (`censor_labels`), and scoring reads the features as of that day, which use
only orders placed before it. Any day inside the data works: dbt builds the features as of that
day too (var `feature_extra_as_of_dates`), beside the weekly snapshots training reads.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.lib.ingest.csv_orders import read_order_csv
from pipeline.lib.ingest.raw_load import LoadResult, load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.raw_schema import ensure_tables
from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.modeling.scoring import TierThresholds
from pipeline.lib.modeling.steps import (
    ScoringSummary,
    TrainingSummary,
    score_and_write,
    train_and_register,
)
from pipeline.lib.modeling.training_run import RunConfig
from pipeline.lib.settings import PROJECT_ROOT
from pipeline.lib.warm_dbt.client import dbt_executable

DBT_DIR = PROJECT_ROOT / "dbt_project"
CSV_TABLE = ("files", "orders")
# Named in dbt_project/selectors.yml: all but what reads the ML scores, and no unit tests.
DBT_SELECTOR = "before_scores"


class BacktestError(RuntimeError):
    """The backtest cannot run as asked (bad as-of day, nothing imported, dbt failed)."""


@dataclass(frozen=True)
class BacktestConfig:
    """One backtest: which export, which day, which horizons, and where everything goes."""

    csv: Path
    as_of: date
    folder: Path
    date_format: str | None = None
    run: RunConfig = field(default_factory=RunConfig)
    thresholds: TierThresholds = field(default_factory=TierThresholds)

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse.duckdb"


@dataclass
class BacktestRun:
    """What each step did, for the evaluation and the printout."""

    imported: LoadResult
    training: TrainingSummary
    scoring: ScoringSummary


def check_as_of(con, as_of: date) -> date:
    """The backtest day must fall inside the data: after its first order, before its end."""
    first, end = con.execute(
        "select (select min(cast(ordered_at as date)) from marts.orders),"
        " (select max(as_of_date) from marts.customers)"
    ).fetchone()
    if first is None or not first < as_of < end:
        raise BacktestError(
            f"as-of date {as_of} is outside the data: its orders run from {first} to the day "
            f"before {end}; pick a day after the first order and before {end}"
        )
    return as_of


def fresh_warehouse(config: BacktestConfig) -> LoadResult:
    """A new warehouse holding the CSV's orders and the platform raw tables, empty, so the dbt
    sources a CSV-only shop lacks exist (created from the loaders' own table specs)."""
    config.folder.mkdir(parents=True, exist_ok=True)
    for stale in (config.warehouse, config.warehouse.with_name(config.warehouse.name + ".wal")):
        stale.unlink(missing_ok=True)
    records = read_order_csv(config.csv, date_format=config.date_format)
    with connect(config.warehouse) as con:
        for spec in RAW_TABLES.values():
            ensure_tables(con, spec)
        loaded = load_records(con, RAW_TABLES[CSV_TABLE], records, f"backtest-{config.as_of}")
    if loaded.loaded == 0:
        raise BacktestError(
            f"no order of {config.csv.name} could be loaded ({loaded.quarantined} quarantined; "
            f"see raw_files.orders_quarantine in {config.warehouse})"
        )
    return loaded


def run_dbt(config: BacktestConfig) -> None:
    """`dbt build` on the backtest warehouse, as a subprocess the way Dagster runs it, with its
    own target and log folders (the project's `target/` holds the manifest Dagster loads)."""
    env = {**os.environ, "WAREHOUSE_PATH": str(config.warehouse.resolve()), "DO_NOT_TRACK": "1"}
    cli = [
        dbt_executable(), "build",
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target-path", str(config.folder / "dbt" / "target"),
        "--log-path", str(config.folder / "dbt" / "logs"),
        "--selector", DBT_SELECTOR,
        "--vars", json.dumps({"feature_extra_as_of_dates": [config.as_of.isoformat()]}),
    ]  # fmt: skip
    done = subprocess.run(cli, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        failures = [line for line in done.stdout.splitlines() if "ERROR" in line or "FAIL" in line]
        raise BacktestError(
            f"dbt build failed (exit {done.returncode}); log in {config.folder / 'dbt' / 'logs'}:\n"
            + "\n".join(failures[-20:] or done.stdout.splitlines()[-20:])
        )


def train_and_score(config: BacktestConfig) -> tuple[TrainingSummary, ScoringSummary]:
    """Train as the shop stood on the as-of day, then score every customer as of that day."""
    with connect(config.warehouse) as con:
        check_as_of(con, config.as_of)
        training = train_and_register(con, config.run, config.folder, config.as_of)
        scoring = score_and_write(con, config.thresholds, config.as_of)
    return training, scoring


def run_backtest(config: BacktestConfig) -> BacktestRun:
    imported = fresh_warehouse(config)
    run_dbt(config)
    training, scoring = train_and_score(config)
    return BacktestRun(imported, training, scoring)
