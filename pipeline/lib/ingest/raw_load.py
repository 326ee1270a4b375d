"""Loading raw records into the warehouse: validated, de-duplicated, idempotent.

Grain of what `load_records` writes: one row per source key in `<schema>.<table>` (see
`raw_records.RAW_TABLES`) and one row per (bad record, reason) in `<schema>.<table>_quarantine`.

Loading is set-based: records are serialised to canonical JSON in Python, handed to DuckDB as an
Arrow table, and extracted, validated, de-duplicated and written by a few SQL statements a batch.

Choices callers can rely on:
- A record identical to the stored one is *unchanged*: its row is not rewritten, so `_loaded_at`
  and `_run_id` say when the row last changed (not when it was last seen), and a re-run of a
  partition leaves the table byte-for-byte as it was.
- Records are stored in a canonical form (keys sorted, compact), so a source sending the same
  fields in another order is not mistaken for a change. Every field is kept, known or not.
- Within a load, the newest valid copy of a key wins (by `updated_at` where the table has one,
  else the last); other copies, and a copy older than the stored row, count as unchanged: an
  older snapshot never rolls a record back. So `loaded == inserted + updated + unchanged`.
- A full disk stops the load with `WarehouseFullError` saying what to do; the batch in
  progress is rolled back and a re-run picks up where it stopped.
- Erased people stay erased: a record naming someone in `activation.erasures` (by the salted
  hash of its email or platform id) is neither stored nor quarantined, only counted as
  `erased_skipped`, so `fetched == loaded + quarantined + erased_skipped`.
- The quarantine holds open problems: one row per (source id, reason), or per (payload hash,
  reason) when the record has no id, holding the latest bad payload (stamped, like raw rows, when
  it last changed). When a later (or the same) load stores a good version of that id, its
  quarantine rows are removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from pipeline.lib.erasure.keys import ErasedKeys, erased_keys
from pipeline.lib.ingest.raw_records import RecordSpec
from pipeline.lib.ingest.raw_schema import ensure_tables
from pipeline.lib.ingest.record_batches import record_batches
from pipeline.lib.ingest.record_sql import erased_records_sql, staging_sql

_BATCH_VIEW = "_foresight_batch"
_STAGE = "_foresight_stage"
_ERASED_VIEW = "_foresight_erased"

# A batch that fills DuckDB row groups exactly is written straight to the file, compressed; a
# smaller one goes through the write-ahead log, and each commit re-compresses the half-filled row
# group the previous one left (first load of 1 KB records: 117k vs 94k records/s at 50k).
ROW_GROUP_SIZE = 122_880


class WarehouseFullError(RuntimeError):
    """The disk holding the warehouse ran out of space during a load."""


@dataclass
class LoadResult:
    """Record counts of one load: fetched == loaded + quarantined + erased_skipped and
    loaded == inserted + updated + unchanged."""

    fetched: int = 0
    loaded: int = 0
    quarantined: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    erased_skipped: int = 0

    def __add__(self, other: LoadResult) -> LoadResult:
        return LoadResult(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )


def load_records(
    con: duckdb.DuckDBPyConnection,
    spec: RecordSpec,
    records: Iterable[dict],
    run_id: str,
    *,
    batch_size: int = ROW_GROUP_SIZE,
) -> LoadResult:
    """Load records into `spec`'s raw table (creating it on first use), one transaction a batch.

    Idempotent: loading the same records again changes nothing. A failed batch rolls back alone;
    batches committed before it stay, which is safe because re-running repeats them as no-ops.
    Call it outside a transaction; `con` is used from one worker thread until it returns.
    """
    with _full_disk_said_plainly():
        return _load_records(con, spec, records, run_id, batch_size)


@contextmanager
def _full_disk_said_plainly() -> Iterator[None]:
    try:
        yield
    except duckdb.IOException as exc:
        if "No space left on device" not in str(exc):
            raise
        raise WarehouseFullError(
            "The disk holding the warehouse is full: the batch in progress was rolled back "
            "(earlier ones were kept). Free some space, then run again; the load picks up "
            "where it stopped."
        ) from None


def _load_records(
    con: duckdb.DuckDBPyConnection,
    spec: RecordSpec,
    records: Iterable[dict],
    run_id: str,
    batch_size: int,
) -> LoadResult:
    ensure_tables(con, spec)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    erased = erased_keys(con) if spec.identifiers else None
    if erased is not None:
        con.register(_ERASED_VIEW, erased.hashes)
    result = LoadResult()
    try:
        # DuckDB releases the GIL while it works, so one worker writes batch N while this thread
        # serialises batch N+1: the two costs overlap on two cores instead of adding up.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="load_records") as writer:
            pending: Future[LoadResult] | None = None
            for batch in record_batches(records, batch_size):
                if pending is not None:
                    result += pending.result()
                pending = writer.submit(_load_batch, con, spec, batch, run_id, loaded_at, erased)
            if pending is not None:
                result += pending.result()
    finally:
        if erased is not None:
            con.unregister(_ERASED_VIEW)
    return result


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    spec: RecordSpec,
    batch: pa.Table,
    run_id: str,
    loaded_at: datetime,
    erased: ErasedKeys | None,
) -> LoadResult:
    con.register(_BATCH_VIEW, batch)
    con.begin()
    try:
        con.execute(f"create or replace temp table {_STAGE} as {staging_sql(spec, _BATCH_VIEW)}")
        erased_skipped = 0
        if erased is not None:
            (erased_skipped,) = con.execute(
                f"delete from {_STAGE} where _ord in "
                f"({erased_records_sql(spec, _BATCH_VIEW, _ERASED_VIEW)})",
                {"salt": erased.salt},
            ).fetchone()
        (quarantined,) = con.execute(
            f"select count(*) from {_STAGE} where _reason is not null"
        ).fetchone()
        if quarantined:
            _quarantine(con, spec, run_id, loaded_at)
        inserted, updated = _write(con, spec, run_id, loaded_at)
        con.execute(
            f"delete from {spec.quarantine} where source_id in "
            f"(select {spec.key.name} from {_STAGE} where _reason is null)"
        )
        con.execute(f"drop table {_STAGE}")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister(_BATCH_VIEW)
    loaded = batch.num_rows - quarantined - erased_skipped
    return LoadResult(
        batch.num_rows,
        loaded,
        quarantined,
        inserted,
        updated,
        loaded - inserted - updated,
        erased_skipped,
    )


def _quarantine(
    con: duckdb.DuckDBPyConnection, spec: RecordSpec, run_id: str, loaded_at: datetime
) -> None:
    key = spec.key.name
    con.execute(
        f"""insert into {spec.quarantine}
            (_quarantine_key, source_id, reason, payload, _loaded_at, _run_id)
        select coalesce({key}, 'sha256:' || sha256(record)), {key}, _reason, record, ?, ?
        from {_STAGE} join {_BATCH_VIEW} using (_ord)
        where _reason is not null
        qualify row_number() over (
            partition by coalesce({key}, 'sha256:' || sha256(record)), _reason order by _ord desc
        ) = 1
        on conflict (_quarantine_key, reason) do update
            set payload = excluded.payload, _loaded_at = excluded._loaded_at,
                _run_id = excluded._run_id
            where payload::varchar <> excluded.payload::varchar""",
        [loaded_at, run_id],
    )


def _write(
    con: duckdb.DuckDBPyConnection, spec: RecordSpec, run_id: str, loaded_at: datetime
) -> tuple[int, int]:
    """Write the newest good copy of each key in the batch; returns (inserted, updated).
    A copy older than the one held is left out (counted as unchanged).

    Changed rows are updated by MERGE; new keys are appended by an anti-join INSERT, which DuckDB
    writes as whole compressed row groups (MERGE's insert branch and INSERT OR IGNORE measured
    2-3x slower for a first load).
    """
    key = spec.key.name
    names = [c.name for c in spec.all_columns]
    # With an `updated_at`, the newest copy wins, within the batch and against what is held: a
    # slow bulk snapshot or an overlapping backfill must not roll a record back.
    versioned = "updated_at" in names
    newest = "updated_at desc nulls last, _ord desc" if versioned else "_ord desc"
    latest = f"""select {", ".join(names)}, record
        from (
            select * from {_STAGE} where _reason is null
            qualify row_number() over (partition by {key} order by {newest}) = 1
        ) join {_BATCH_VIEW} using (_ord)"""
    stamps = {"loaded_at": loaded_at, "run_id": run_id}
    updated = 0
    if spec.mode == "merge":
        changes = ", ".join(f"{n} = s.{n}" for n in [*names[1:], "record"])
        not_older = (
            "and (s.updated_at is null or t.updated_at is null or s.updated_at >= t.updated_at)"
            if versioned
            else ""
        )
        (updated,) = con.execute(
            f"""merge into {spec.name} as t using ({latest}) as s on t.{key} = s.{key}
            when matched and t.record::varchar <> s.record {not_older} then
                update set {changes}, _loaded_at = $loaded_at, _run_id = $run_id""",
            stamps,
        ).fetchone()
    (inserted,) = con.execute(
        f"""insert into {spec.name} ({", ".join(names)}, record, _loaded_at, _run_id)
        select *, $loaded_at, $run_id from ({latest}) as s
        where not exists (select 1 from {spec.name} as t where t.{key} = s.{key})""",
        stamps,
    ).fetchone()
    return inserted, updated
