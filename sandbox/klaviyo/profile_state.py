"""Klaviyo profiles that clients wrote, imported or deleted, in the sandbox state file.

Grain: `created_profiles` one row per profile a client created; `profile_writes` one row per
profile a client changed (attributes and custom properties merged key by key); `import_jobs` one
row per bulk import job, `import_errors` one row per (job, rejected profile);
`deletion_requests` one row per data-privacy request, `deleted_profiles` one row per profile it
erased. `ProfileState` is mixed into `SandboxState`, which owns the connection, the lock and
transactions; successful imports join lists through `ListState`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from sandbox.klaviyo.ids import new_ulid

PROFILE_SCHEMA = """
create table if not exists created_profiles (
    profile_id varchar primary key, email varchar, phone_number varchar,
    created timestamp not null);
create table if not exists profile_writes (
    profile_id varchar primary key, attributes json not null, properties json not null,
    updated timestamp not null);
create table if not exists import_jobs (
    job_id varchar primary key, status varchar not null, created_at timestamp not null,
    started_at timestamp, completed_at timestamp, total_count integer not null,
    completed_count integer not null, failed_count integer not null, list_ids json not null);
create table if not exists import_errors (
    job_id varchar not null, seq integer not null, error_id varchar not null,
    code varchar not null, title varchar not null, detail varchar not null, pointer varchar,
    original_payload json, primary key (job_id, seq));
create table if not exists deletion_requests (
    request_id varchar primary key, identifier_type varchar not null, identifier varchar not null,
    requested_at timestamp not null, status varchar not null, deleted_count integer not null);
create table if not exists deleted_profiles (
    profile_id varchar primary key, request_id varchar not null, deleted_at timestamp not null);
"""

# Job status moves one step per client poll, so a client must poll as it would against Klaviyo.
_NEXT_STATUS = {"queued": "processing", "processing": "complete"}


class ProfileState:
    """Profile, import job and data-privacy reads and writes of `SandboxState`."""

    def profile_tables(self) -> dict[str, pa.Table]:
        """Arrow snapshots (`created`, `writes`, `deleted`) to join with the store's profiles.

        Cached until the next write, so a read costs nothing when nothing changed.
        """
        with self._lock:
            if self._snapshot is None or self._snapshot[0] != self._version:
                tables = {
                    "created": "select * from created_profiles",
                    "writes": "select profile_id, attributes::varchar as attributes,"
                    " properties::varchar as properties, updated from profile_writes",
                    "deleted": "select profile_id from deleted_profiles",
                }
                snapshot = {k: self._con.sql(sql).to_arrow_table() for k, sql in tables.items()}
                self._snapshot = (self._version, snapshot)
            return self._snapshot[1]

    def record_import(
        self,
        job: dict[str, Any],
        created: list[dict[str, Any]],
        writes: dict[str, tuple[dict, dict]],
        errors: list[dict[str, Any]],
        now: datetime,
    ) -> None:
        """Store a bulk import job and its effects in one transaction.

        `created`: new profiles (profile_id, email, phone_number); `writes`: profile_id ->
        (attributes, properties) merged into earlier writes; `errors`: per-profile errors.
        Successfully imported profiles join the job's lists.
        """
        with self._write() as con:
            if created:
                con.register("_new", pa.Table.from_pylist(created))
                con.execute(
                    "insert into created_profiles"
                    " select profile_id, email, phone_number, ? from _new",
                    [now],
                )
                con.unregister("_new")
            self._merge_writes(con, writes, now)
            for list_id in job["list_ids"]:
                self._add_members(con, list_id, writes.keys(), now)
            con.execute(
                "insert into import_jobs values (?, 'queued', ?, null, null, ?, ?, ?, ?)",
                [
                    job["job_id"],
                    now,
                    job["total_count"],
                    len(writes),
                    len(errors),
                    json.dumps(job["list_ids"]),
                ],
            )
            for seq, error in enumerate(errors):
                con.execute(
                    "insert into import_errors values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        job["job_id"],
                        seq,
                        error["id"],
                        error["code"],
                        error["title"],
                        error["detail"],
                        error["pointer"],
                        json.dumps(error["original_payload"]),
                    ],
                )

    def get_import_job(self, job_id: str, advance_at: datetime | None = None) -> dict | None:
        """The job row; with `advance_at`, first move it one status step (a client poll)."""
        if advance_at is not None:
            with self._write() as con:
                row = con.execute(
                    "select status from import_jobs where job_id = ?", [job_id]
                ).fetchone()
                step = _NEXT_STATUS.get(row[0]) if row else None
                if step:
                    column = "started_at" if step == "processing" else "completed_at"
                    con.execute(
                        f"update import_jobs set status = ?, {column} = ? where job_id = ?",
                        [step, advance_at, job_id],
                    )
        rows = self._query("select * from import_jobs where job_id = ?", [job_id])
        if not rows:
            return None
        job = rows[0]
        job["list_ids"] = json.loads(job["list_ids"])
        return job

    def delete_profiles(
        self, identifier_type: str, identifier: str, profile_ids: list[str], now: datetime
    ) -> str:
        """Record a deletion request and erase the profiles' client-written data.

        Deleted ids are remembered so the emulator hides them (and their events) everywhere.
        """
        request_id = new_ulid(now)
        ids = pa.table({"profile_id": pa.array(sorted(set(profile_ids)), pa.string())})
        with self._write() as con:
            con.execute(
                "insert into deletion_requests values (?, ?, ?, ?, 'complete', ?)",
                [request_id, identifier_type, identifier, now, ids.num_rows],
            )
            con.register("_ids", ids)
            con.execute(
                "insert or ignore into deleted_profiles select profile_id, ?, ? from _ids",
                [request_id, now],
            )
            for table in ("list_members", "profile_writes", "created_profiles"):
                con.execute(f"delete from {table} where profile_id in (select * from _ids)")
            con.unregister("_ids")
        return request_id

    @staticmethod
    def _merge_writes(
        con: duckdb.DuckDBPyConnection, writes: dict[str, tuple[dict, dict]], now: datetime
    ) -> None:
        """Merge attributes and custom properties key by key into earlier writes."""
        if not writes:
            return
        con.register("_ids", pa.table({"profile_id": pa.array(list(writes), pa.string())}))
        earlier = {
            pid: (json.loads(attrs), json.loads(props))
            for pid, attrs, props in con.execute(
                "select profile_id, attributes::varchar, properties::varchar from profile_writes"
                " where profile_id in (select profile_id from _ids)"
            ).fetchall()
        }
        con.unregister("_ids")
        rows = []
        for pid, (attrs, props) in writes.items():
            old_attrs, old_props = earlier.get(pid, ({}, {}))
            rows.append(
                {
                    "profile_id": pid,
                    "attributes": json.dumps(old_attrs | attrs),
                    "properties": json.dumps(old_props | props),
                }
            )
        con.register("_rows", pa.Table.from_pylist(rows))
        con.execute(
            "insert or replace into profile_writes"
            " select profile_id, attributes, properties, ? from _rows",
            [now],
        )
        con.unregister("_rows")
