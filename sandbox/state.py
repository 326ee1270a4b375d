"""Writable platform state of the sandbox: what API clients wrote, kept in a DuckDB file.

The generated store is read-only; everything a client changes through the Klaviyo emulator (lists,
memberships, profile properties, imported profiles, bulk import jobs, data-privacy deletions) lives
here so a restarted server sees what an earlier run wrote. Writes hold one lock; reads use their
own cursor. Timestamps are naive UTC, stamped by the caller with the sandbox clock.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

_SCHEMA = """
create table if not exists lists (
    list_id varchar primary key, name varchar not null, opt_in_process varchar,
    created timestamp not null, updated timestamp not null);
create table if not exists list_members (
    list_id varchar not null, profile_id varchar not null, added_at timestamp not null,
    primary key (list_id, profile_id));
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

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Job status moves one step per client poll, so a client must poll as it would against Klaviyo.
_NEXT_STATUS = {"queued": "processing", "processing": "complete"}


def new_ulid(now: datetime) -> str:
    """A 26-character ULID (Klaviyo's id shape for profiles and jobs) stamped with `now`."""
    epoch_ms = int((now - datetime(1970, 1, 1)).total_seconds() * 1000)
    value = (epoch_ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class SandboxState:
    """Everything clients wrote to the emulated platforms, persisted at `path`.

    Use ":memory:" for a throwaway state in tests.
    """

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(path))
        self._con.execute(_SCHEMA)
        self._lock = threading.RLock()
        self._version = 0
        self._snapshot: tuple[int, dict[str, pa.Table]] | None = None

    def close(self) -> None:
        """Close the database file; the state object is unusable afterwards."""
        with self._lock:
            self._con.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A fresh cursor for read-only SQL over the state tables (close it after use)."""
        with self._lock:
            return self._con.cursor()

    # -- lists -------------------------------------------------------------------------------

    def create_list(self, name: str, opt_in_process: str | None, now: datetime) -> dict:
        """Create a list with a fresh 6-character id (Klaviyo's list id shape) and return it."""
        with self._write() as con:
            while True:
                list_id = "".join(secrets.choice(_ALNUM) for _ in range(6))
                if not con.execute("select 1 from lists where list_id = ?", [list_id]).fetchone():
                    break
            con.execute(
                "insert into lists values (?, ?, ?, ?, ?)",
                [list_id, name, opt_in_process, now, now],
            )
        return self.get_list(list_id)

    def get_list(self, list_id: str) -> dict | None:
        """The list row with its member count, or None when there is no such list."""
        rows = self._query(
            "select l.*, (select count(*) from list_members m where m.list_id = l.list_id)"
            " as profile_count from lists l where list_id = ?",
            [list_id],
        )
        return rows[0] if rows else None

    def update_list(self, list_id: str, changes: dict[str, Any], now: datetime) -> dict | None:
        """Apply `changes` (name, opt_in_process) to a list; None when the list does not exist."""
        with self._write() as con:
            if not con.execute("select 1 from lists where list_id = ?", [list_id]).fetchone():
                return None
            for column in ("name", "opt_in_process"):
                if column in changes:
                    con.execute(
                        f"update lists set {column} = ? where list_id = ?",
                        [changes[column], list_id],
                    )
            con.execute("update lists set updated = ? where list_id = ?", [now, list_id])
        return self.get_list(list_id)

    def delete_list(self, list_id: str) -> bool:
        """Delete a list and its memberships; False when it did not exist."""
        with self._write() as con:
            found = con.execute("select 1 from lists where list_id = ?", [list_id]).fetchone()
            con.execute("delete from list_members where list_id = ?", [list_id])
            con.execute("delete from lists where list_id = ?", [list_id])
        return found is not None

    def add_members(self, list_id: str, profile_ids: Iterable[str], now: datetime) -> int:
        """Add profiles to a list (idempotent: members keep their first `added_at`)."""
        with self._write() as con:
            return self._add_members(con, list_id, profile_ids, now)

    def remove_members(self, list_id: str, profile_ids: Iterable[str]) -> int:
        """Remove profiles from a list; ids that are not members are ignored."""
        ids = pa.table({"profile_id": pa.array(sorted(set(profile_ids)), pa.string())})
        with self._write() as con:
            con.register("_ids", ids)
            before = _count(con, "list_members where list_id = ?", [list_id])
            con.execute(
                "delete from list_members where list_id = ?"
                " and profile_id in (select profile_id from _ids)",
                [list_id],
            )
            con.unregister("_ids")
            return before - _count(con, "list_members where list_id = ?", [list_id])

    def members_table(self, list_id: str) -> pa.Table:
        """The list's memberships as an Arrow table (profile_id, added_at)."""
        with self._lock:
            return self._con.sql(
                "select profile_id, added_at from list_members where list_id = $id",
                params={"id": list_id},
            ).to_arrow_table()

    def lists_of_profile(self, profile_id: str) -> list[str]:
        """Ids of the lists the profile belongs to, oldest membership first."""
        rows = self._query(
            "select list_id from list_members where profile_id = ? order by added_at, list_id",
            [profile_id],
        )
        return [row["list_id"] for row in rows]

    # -- profiles ----------------------------------------------------------------------------

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

    # -- data privacy ------------------------------------------------------------------------

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

    def summary(self) -> dict[str, Any]:
        """Row counts for the read-only `/sandbox/state` inspection endpoint."""
        tables = (
            "lists",
            "list_members",
            "created_profiles",
            "profile_writes",
            "import_jobs",
            "import_errors",
            "deletion_requests",
            "deleted_profiles",
        )
        with self.cursor() as cur:
            counts = {t: cur.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
            by_status = cur.execute(
                "select status, count(*) from import_jobs group by status order by status"
            ).fetchall()
        counts["import_jobs_by_status"] = dict(by_status)
        return counts

    # -- internals ---------------------------------------------------------------------------

    def _write(self) -> _WriteTransaction:
        return _WriteTransaction(self)

    def _query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            result = cur.execute(sql, params)
            names = [d[0] for d in result.description]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    @staticmethod
    def _add_members(
        con: duckdb.DuckDBPyConnection, list_id: str, profile_ids: Iterable[str], now: datetime
    ) -> int:
        ids = pa.table({"profile_id": pa.array(sorted(set(profile_ids)), pa.string())})
        con.register("_ids", ids)
        before = _count(con, "list_members where list_id = ?", [list_id])
        con.execute(
            "insert or ignore into list_members select ?, profile_id, ? from _ids",
            [list_id, now],
        )
        con.unregister("_ids")
        return _count(con, "list_members where list_id = ?", [list_id]) - before

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


class _WriteTransaction:
    """Holds the state lock and one transaction; rolls back on error, bumps the version."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self._state._lock.acquire()
        self._state._con.execute("begin transaction")
        return self._state._con

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._state._con.execute("rollback" if exc_type else "commit")
            self._state._version += 1
        finally:
            self._state._lock.release()


def _count(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> int:
    return con.execute(f"select count(*) from {where}", params).fetchone()[0]
