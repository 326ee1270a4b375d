"""The instance storage writes a range run's per-day materialisations as one batch, and records
exactly what Dagster's own SQLite storage records for them."""

import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from pipeline.defs.partitions import partition_range_tags
from pipeline.defs.storage import BatchingSqliteEventLogStorage
from pipeline.lib.settings import PROJECT_ROOT

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01")
RANGE = partition_range_tags("2024-01-01", "2024-01-30")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_rows(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


def _batching_instance(base_dir: Path):
    storage = {"module": "pipeline.defs.storage", "class": "SqliteStorageWritingBatches",
               "config": {"base_dir": str(base_dir)}}  # fmt: skip
    return dg.instance_for_test(temp_dir=str(base_dir), overrides={"storage": {"custom": storage}})


def _recorded(base_dir: Path) -> dict[str, list]:
    """The cross-run index's asset rows, without ids, times and run-specific values."""
    with sqlite3.connect(base_dir / "history" / "runs" / "index.db") as con:
        return {
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


def test_the_project_instance_uses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(PROJECT_ROOT))
    monkeypatch.setenv("FORESIGHT_DAGSTER_STORAGE", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)
        assert (tmp_path / "history" / "runs").is_dir()  # where `storage: sqlite` keeps them
