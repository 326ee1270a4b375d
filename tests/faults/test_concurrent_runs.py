"""Two runs that want the warehouse at once, and a run while an analyst holds it open.

Overlapping runs (a daily run and a backfill, each its own process as Dagster launches them)
queue on the `duckdb` pool of the repository's `dagster.yaml`: the second waits for the first
to let go of the warehouse, and both succeed. Without the pool the second would meet DuckDB's
file lock; that outcome, and a run meeting an analyst's read-only session in another process,
is a failed run whose message names the file, the program and PID holding it, and what to do;
once the holder lets go, the same run succeeds. Nothing is corrupted on the way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipeline.defs.ingest.files import files_orders
from pipeline.defs.resources import WarehouseResource
from pipeline.defs.transform.dbt import dbt_resource, foresight_dbt_feature_readers
from pipeline.lib.ingest.warehouse import connect

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("warehouse_run_worker.py")
ANALYST = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("reading", flush=True)
time.sleep(120)
"""


@pytest.fixture
def instance_dir(tmp_path, monkeypatch) -> Path:
    """The repository's instance configuration, its storage under `tmp_path`."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("FORESIGHT_DAGSTER_STORAGE", str(tmp_path / "storage"))
    return tmp_path


def start_run(instance_dir: Path, warehouse: Path, label: str, release: str, pool: bool):
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(instance_dir), str(warehouse), label, release,
         "POOL" if pool else "NOPOOL"],
        env=os.environ | {"DAGSTER_HOME": str(instance_dir)},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
    )  # fmt: skip


def test_a_daily_run_and_a_backfill_queue_on_the_warehouse_and_both_succeed(instance_dir):
    warehouse, release = instance_dir / "warehouse.duckdb", instance_dir / "release"
    daily = start_run(instance_dir, warehouse, "daily", str(release), pool=True)
    assert daily.stdout.readline().strip() == "holding the warehouse"
    backfill = start_run(instance_dir, warehouse, "backfill", "-", pool=True)
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        deadline = time.monotonic() + 120
        while len(instance.get_runs()) < 2:  # the backfill has started and wants the slot
            assert backfill.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    time.sleep(1.0)
    release.touch()
    outcomes = [run.wait(timeout=120) for run in (daily, backfill)]
    assert outcomes == [0, 0], [run.stdout.read() for run in (daily, backfill)]
    with connect(warehouse, read_only=True) as con:
        writes = dict(
            (label, (began, ended))
            for label, began, ended in con.execute("select * from writes").fetchall()
        )
    assert writes["backfill"][0] >= writes["daily"][1], "the backfill did not wait its turn"


def test_without_the_pool_the_second_writer_fails_naming_the_holder(instance_dir):
    warehouse, release = instance_dir / "warehouse.duckdb", instance_dir / "release"
    first = start_run(instance_dir, warehouse, "first", str(release), pool=False)
    assert first.stdout.readline().strip() == "holding the warehouse"
    second = start_run(instance_dir, warehouse, "second", "-", pool=False)
    assert second.wait(timeout=120) == 1
    release.touch()
    message = second.stdout.read()
    assert f"PID {first.pid}" in message and str(warehouse) in message
    assert "Close that" in message and "run again" in message
    assert first.wait(timeout=120) == 0
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select label from writes").fetchall() == [("first",)]


def hold_read_only(warehouse: Path) -> subprocess.Popen:
    """An analyst's session in another process, reading the warehouse (until killed)."""
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(warehouse)], stdout=subprocess.PIPE, text=True
    )
    assert analyst.stdout.readline().strip() == "reading"
    return analyst


def failure_message(result) -> str:
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.error.to_string()  # as the UI shows it, with causes


def test_a_run_while_an_analyst_reads_the_warehouse_fails_plainly_then_succeeds(tmp_path):
    warehouse, export = tmp_path / "warehouse.duckdb", tmp_path / "orders.csv"
    duckdb.connect(str(warehouse)).close()
    export.write_text("customer_id,ordered_at,total\nc1,2024-03-01,12.50\nc2,2024-03-02,8\n")
    run_config = {"ops": {"files__orders": {"config": {"path": str(export)}}}}
    resources = {"warehouse": WarehouseResource(path=str(warehouse))}
    analyst = hold_read_only(warehouse)
    try:
        blocked = dg.materialize(
            [files_orders], resources=resources, run_config=run_config, raise_on_error=False
        )
    finally:
        analyst.kill()
        analyst.wait()
    assert not blocked.success
    message = failure_message(blocked)
    assert f"PID {analyst.pid}" in message and "read-only one blocks writers" in message
    assert dg.materialize([files_orders], resources=resources, run_config=run_config).success
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from raw_files.orders").fetchone() == (2,)


def test_a_dbt_step_while_an_analyst_reads_the_warehouse_fails_naming_the_holder(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    analyst = hold_read_only(warehouse)
    try:
        blocked = dg.materialize(
            [foresight_dbt_feature_readers],
            resources={"dbt": dbt_resource(), "warehouse": WarehouseResource(path=str(warehouse))},
            raise_on_error=False,
        )
    finally:
        analyst.kill()
        analyst.wait()
    assert not blocked.success
    message = failure_message(blocked)
    assert f"PID {analyst.pid}" in message and "read-only one blocks writers" in message
