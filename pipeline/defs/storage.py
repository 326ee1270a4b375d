"""The instance's SQLite storage, writing a range run's per-day asset events in one transaction.

A run over a range of daily partitions records one materialisation per day for each
partitioned asset it builds (730 for two years of history). Dagster's SQLite event log writes
each event on its own: a new engine and connection, two transactions (the run's file and the
cross-run index) and two commits to disk, about 15 ms an event, which made recording a first
load's materialisations minutes of its run. Dagster hands such per-partition events to the
storage as one batch when `DAGSTER_EVENT_BATCH_SIZE` is set (the Makefile sets it); this
storage writes a batch of asset events in one transaction per file, with the same rows and
index entries the event-by-event path writes. Everything else is Dagster's SQLite storage.

`dagster.yaml` names it under `storage: custom`, with the same `base_dir` as `storage: sqlite`,
so an instance keeps its files.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log; a batch of one run's asset events is one transaction."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        run_ids = {event.run_id for event in events}
        asset_events = all(
            event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS for event in events
        )
        if len(run_ids) != 1 or not asset_events:
            super().store_event_batch(events)  # one at a time, as Dagster does
            return
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(run_ids.pop()) as conn:
            for statement in statements:
                conn.execute(statement)
        # Mirrored in the cross-run index as `store_event` does: the event, its tags and the
        # asset's latest-event entry.
        with self.index_transaction() as conn:
            event_ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    event_ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, list(events), event_ids)
            for event, event_id in zip(events, event_ids, strict=True):
                self._store_asset_event(conn, event, event_id)


class SqliteStorageWritingBatches(DagsterSqliteStorage):
    """`storage: sqlite` with the batching event log."""

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = BatchingSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> SqliteStorageWritingBatches:
        return cls.from_local(inst_data=inst_data, **config_value)
