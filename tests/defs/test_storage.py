"""The instance storage writes a range run's per-day materialisations as one batch and a run's
other events on engines it keeps, and records exactly what Dagster's own SQLite storage records."""

import logging
import os
import sqlite3
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.sql import create_engine

from pipeline.defs import storage as storage_module
from pipeline.defs.partitions import partition_range_tags
from pipeline.defs.storage import BatchingSqliteEventLogStorage
from pipeline.lib.settings import PROJECT_ROOT
from tests.instances import product_storage

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01")
RANGE = partition_range_tags("2024-01-01", "2024-01-30")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_rows(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset
def chatty(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for line in range(100):
        context.log.info(f"line {line}")
    return dg.MaterializeResult(metadata={"lines": 100})


@dg.asset
def checked_rows() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset_check(asset=checked_rows)
def rows_present() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset_check(asset=checked_rows)
def rows_unique() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False)


@dg.asset_check(asset=daily_rows)
def days_present() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _batching_instance(base_dir: Path):
    return dg.instance_for_test(temp_dir=str(base_dir), overrides=product_storage(str(base_dir)))


def _recorded(base_dir: Path) -> dict[str, list]:
    """The run's events and the cross-run index's rows, without ids, times and run-specific
    values."""
    runs = base_dir / "history" / "runs"
    (run_file,) = set(runs.glob("*.db")) - {runs / "index.db"}
    with sqlite3.connect(run_file) as con:
        run_events = con.execute(
            "select dagster_event_type, step_key, asset_key, partition from event_logs order by id"
        ).fetchall()
    with sqlite3.connect(runs / "index.db") as con:
        return {
            "run": run_events,
            "index": con.execute(
                "select dagster_event_type from event_logs order by id"
            ).fetchall(),
            "events": con.execute(
                "select dagster_event_type, asset_key, partition from event_logs "
                "where asset_key is not null order by id"
            ).fetchall(),
            # A data version hashes the run's id (the default code version): only its presence.
            "tags": con.execute(
                "select key, iif(key = 'dagster/data_version', '', value) "
                "from asset_event_tags order by event_id"
            ).fetchall(),
            "assets": con.execute(
                "select asset_key, last_materialization is not null, "
                "last_materialization_timestamp is not null from asset_keys"
            ).fetchall(),
            "checks": con.execute(
                "select asset_key, check_name, partition, execution_status, "
                "evaluation_event_storage_id is not null from asset_check_executions "
                "order by asset_key, check_name"
            ).fetchall(),
        }


@pytest.fixture
def batches(monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    stored = []
    original = BatchingSqliteEventLogStorage.store_event_batch

    def counted(self, events):
        stored.append(len(events))
        return original(self, events)

    monkeypatch.setattr(BatchingSqliteEventLogStorage, "store_event_batch", counted)
    return stored


def test_a_range_run_is_recorded_as_dagsters_sqlite_records_it(tmp_path, batches):
    (tmp_path / "dagster").mkdir()
    (tmp_path / "ours").mkdir()
    plain = dg.DagsterInstance.local_temp(str(tmp_path / "dagster"))
    assert dg.materialize([daily_rows], instance=plain, tags=RANGE).success
    with _batching_instance(tmp_path / "ours") as ours:
        assert isinstance(ours.event_log_storage, BatchingSqliteEventLogStorage)
        assert dg.materialize([daily_rows], instance=ours, tags=RANGE).success
        assert len(ours.get_materialized_partitions(daily_rows.key)) == 30
        latest = ours.get_latest_materialization_event(daily_rows.key)
        assert latest.asset_materialization.partition == "2024-01-30"
    assert batches == [30]  # the range output's 30 materialisations, written as one batch
    assert _recorded(tmp_path / "ours") == _recorded(tmp_path / "dagster")
    assert len(plain.get_materialized_partitions(daily_rows.key)) == 30


def test_a_runs_planned_checks_are_written_in_its_planned_batch(tmp_path, batches, monkeypatch):
    (tmp_path / "dagster").mkdir()
    (tmp_path / "ours").mkdir()
    plain = dg.DagsterInstance.local_temp(str(tmp_path / "dagster"))
    checked = [checked_rows, rows_present, rows_unique]
    assert dg.materialize(checked, instance=plain).success
    one_at_a_time = []
    original = BatchingSqliteEventLogStorage.store_event

    def single(self, event):
        one_at_a_time.append(event.dagster_event_type)
        return original(self, event)

    monkeypatch.setattr(BatchingSqliteEventLogStorage, "store_event", single)
    with _batching_instance(tmp_path / "ours") as ours:
        assert dg.materialize(checked, instance=ours).success
    assert batches == [3]  # the asset's planned materialisation and its two planned checks
    assert dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED not in one_at_a_time
    recorded = _recorded(tmp_path / "ours")
    assert recorded == _recorded(tmp_path / "dagster")
    assert [(check, status) for _, check, _, status, _ in recorded["checks"]] == [
        ("rows_present", "SUCCEEDED"),
        ("rows_unique", "FAILED"),
    ]


def test_a_range_runs_planned_check_is_written_once_per_day_it_plans(tmp_path, batches):
    (tmp_path / "dagster").mkdir()
    (tmp_path / "ours").mkdir()
    plain = dg.DagsterInstance.local_temp(str(tmp_path / "dagster"))
    assert dg.materialize([daily_rows, days_present], instance=plain, tags=RANGE).success
    with _batching_instance(tmp_path / "ours") as ours:
        assert dg.materialize([daily_rows, days_present], instance=ours, tags=RANGE).success
    recorded = _recorded(tmp_path / "ours")
    assert recorded == _recorded(tmp_path / "dagster")
    planned_days = [day for _, _, day, status, _ in recorded["checks"] if status == "PLANNED"]
    assert sorted(planned_days) == [f"2024-01-{day:02d}" for day in range(1, 31)]


def test_the_project_instance_uses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(PROJECT_ROOT))
    monkeypatch.setenv("FORESIGHT_DAGSTER_STORAGE", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)
        assert (tmp_path / "history" / "runs").is_dir()  # where `storage: sqlite` keeps them


@pytest.fixture
def engines(monkeypatch) -> Counter:
    """The engines made for each file of the event log, by Dagster's code or the storage's."""
    made = Counter()

    def counted(url, **kwargs):
        made[Path(str(url)).name] += 1
        return create_engine(url, **kwargs)

    monkeypatch.setattr(sqlite_event_log, "create_engine", counted)
    monkeypatch.setattr(storage_module, "create_engine", counted, raising=False)
    return made


def _message(run_id: str, text: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None, level=logging.INFO, user_message=text, run_id=run_id, timestamp=time.time()
    )


def _messages(storage: BatchingSqliteEventLogStorage, run_id: str) -> list[str]:
    return [
        record.event_log_entry.user_message
        for record in storage.get_records_for_run(run_id).records
    ]


def test_a_runs_events_are_written_on_one_engine_per_file_as_dagster_writes_them(tmp_path, engines):
    (tmp_path / "dagster").mkdir()
    (tmp_path / "ours").mkdir()
    plain = dg.DagsterInstance.local_temp(str(tmp_path / "dagster"))
    assert dg.materialize([chatty], instance=plain).success
    with _batching_instance(tmp_path / "ours") as ours:
        engines.clear()  # those of the instance's own set-up (Dagster's, replaced) aside
        result = dg.materialize([chatty], instance=ours)
        assert result.success
        assert len(ours.get_records_for_run(result.run_id).records) > 100
    assert engines == {f"{result.run_id}.db": 1, "index.db": 1}
    assert _recorded(tmp_path / "ours") == _recorded(tmp_path / "dagster")


def test_a_run_watched_from_another_process_streams_each_event(tmp_path):
    writer = BatchingSqliteEventLogStorage(str(tmp_path))
    reader = BatchingSqliteEventLogStorage(str(tmp_path))  # the UI's, in the webserver
    writer.store_event(_message("run", "first"))
    seen = []
    reader.watch("run", None, lambda entry, cursor: seen.append(entry.user_message))
    try:
        writer.store_event(_message("run", "second"))
        writer.store_event(_message("run", "third"))
        deadline = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        reader.dispose()
        writer.dispose()
    assert seen == ["first", "second", "third"]


def test_after_a_wipe_a_run_holds_only_the_events_stored_since(tmp_path):
    storage = BatchingSqliteEventLogStorage(str(tmp_path))
    storage.store_event(_message("run", "before the wipe"))
    storage.wipe()  # unlinks the run's file, which a kept connection would go on writing
    storage.store_event(_message("run", "after the wipe"))
    stored = _messages(storage, "run")
    storage.dispose()
    assert stored == ["after the wipe"]
    with sqlite3.connect(tmp_path / "run.db") as con:
        assert con.execute("select count(*) from event_logs").fetchone() == (1,)


def test_a_forked_child_writes_on_its_own_engine_and_the_parent_on_its_own(tmp_path, engines):
    storage = BatchingSqliteEventLogStorage(str(tmp_path))
    storage.store_event(_message("run", "parent"))
    pid = os.fork()
    if pid == 0:  # the child: a new engine for the run's file, none of its parent's connections
        try:
            engines.clear()
            storage.store_event(_message("run", "child"))
            os._exit(0 if engines == {"run.db": 1} else 1)
        finally:
            os._exit(2)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    storage.store_event(_message("run", "parent again"))
    stored = _messages(storage, "run")
    storage.dispose()
    assert stored == ["parent", "child", "parent again"]
