"""The instance's SQLite storage: Dagster's, with cheaper event writes and the same rows.

Dagster's SQLite event log keeps a file per run and a cross-run index file, and writes each event
on its own: a new engine and connection for each file it touches (most of the event's time), one
transaction each, and a checkpoint of the file's write-ahead log as the connection closes. Two
changes make a run's events cheaper; everything else is Dagster's SQLite storage.

- Batches. A run over a range of daily partitions records one materialisation per day for each
  partitioned asset it builds (730 for two years of history), and every run starts by recording
  a planned event per asset and per asset check it will run (each dbt test is a check: about
  200 for a daily run). Dagster hands such events to the storage as one batch when
  `DAGSTER_EVENT_BATCH_SIZE` is set (the Makefile sets it); this storage writes a batch of asset
  events and planned checks in one transaction per file, with the same rows and index entries
  the event-by-event path writes. (Dagster's path also serialises a planned check's event again
  for each partition it plans, 90 times per check for a 90-day history: 3 s of a small shop's
  first refresh. Here each event is serialised once.)
- Engines. Each process keeps one engine per file, its connection open between events, so an
  event is a short transaction on an open connection (storing the 600 events of an in-process
  run took 1.0 s instead of 2.8 s). The UI streams a run's events by watching the run's file
  change on disk, which Dagster's closing checkpoint did; this storage checkpoints it after each
  use instead.

`dagster.yaml` names it under `storage: custom`, with the same `base_dir` as `storage: sqlite`,
so an instance keeps its files.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dagster._core.events import ASSET_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import serialize_value
from sqlalchemy.engine import Connection, Engine

# Engines kept per process: the index, the runs being written and a few the UI reads. A
# long-lived process (the webserver, the daemon) reads many runs' files; each kept engine holds
# its file, write-ahead log and shared-memory index open, so the least recently used is closed.
KEPT_ENGINES = 8
# The events a batch is written in one transaction per file for (others: one at a time).
BATCHED_EVENTS = {*ASSET_EVENTS, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log; one engine per file and process, a batch of one run's asset
    events in one transaction."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        # A lock of its own: `has_table` takes an engine while `_connect` holds `_db_lock`.
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            if self._engines_pid != os.getpid():
                # A forked child must not use (nor close) the SQLite connections of its parent:
                # it forgets them, as SQLAlchemy advises, and opens its own.
                for engine in self._engines.values():
                    engine.dispose(close=False)
                self._engines.clear()
                self._engines_pid = os.getpid()
            if shard in self._engines:
                self._engines.move_to_end(shard)
                return self._engines[shard]
            # Two connections: `has_table` reads the index inside an open index transaction.
            engine = create_engine(
                self.conn_string_for_shard(shard),
                pool_size=2,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            self._engines[shard] = engine
            if len(self._engines) > KEPT_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's `_connect` on a kept engine. The transaction ends before the connection goes
        # back to the pool (which rolls back whatever is left), so no lock on the file outlives
        # a use and other processes write between this one's events as before.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn
                if shard != INDEX_SHARD_NAME:
                    # With the connection kept open, new events stay in the write-ahead log,
                    # while Dagster's run watchers (the UI's event stream) wait for the run's
                    # file itself to change. A passive checkpoint copies them there without
                    # waiting for anyone; after a read too, for the events a reader's snapshot
                    # kept the writer's checkpoint from copying.
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def has_table(self, table_name: str) -> bool:
        engine = self._engine(INDEX_SHARD_NAME)  # Dagster's makes an engine per call
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))

    def wipe(self) -> None:
        self._dispose_engines()  # before Dagster unlinks the runs' files under open connections
        super().wipe()

    def dispose(self) -> None:
        super().dispose()  # stops the run watchers, which read through the engines
        self._dispose_engines()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        run_ids = {event.run_id for event in events}
        batchable = all(
            event.is_dagster_event and event.dagster_event_type in BATCHED_EVENTS
            for event in events
        )
        if len(run_ids) != 1 or not batchable:
            super().store_event_batch(events)  # one at a time, as Dagster does
            return
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(run_ids.pop()) as conn:
            for statement in statements:
                conn.execute(statement)
        # Mirrored in the cross-run index as `store_event` does: each event; an asset event's
        # tags and the asset's latest-event entry; a planned check's execution row.
        with self.index_transaction() as conn:
            event_ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    event_ids.append(result.inserted_primary_key[0])
            stored = list(zip(events, event_ids, strict=True))
            assets = [(e, i) for e, i in stored if e.dagster_event_type in ASSET_EVENTS]
            self._store_asset_event_tags(conn, [e for e, _ in assets], [i for _, i in assets])
            for event, event_id in assets:
                self._store_asset_event(conn, event, event_id)
            planned = [
                row
                for event, event_id in stored
                if event.dagster_event_type not in ASSET_EVENTS
                for row in self._planned_check_rows(event, event_id)
            ]
            if planned:
                conn.execute(AssetCheckExecutionsTable.insert(), planned)

    def _planned_check_rows(self, event: EventLogEntry, event_id: int) -> list[dict]:
        """The check execution rows Dagster writes for a planned check: one per partition."""
        planned = event.get_dagster_event().event_specific_data
        partitions = (
            planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        )
        row = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        return [{**row, "partition": partition} for partition in partitions]


class SqliteStorageWritingBatches(DagsterSqliteStorage):
    """`storage: sqlite` with the batching event log."""

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = BatchingSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> SqliteStorageWritingBatches:
        return cls.from_local(inst_data=inst_data, **config_value)
