"""Writable platform state of the sandbox: what API clients wrote, kept in one DuckDB file.

The generated store is read-only; everything a client changes through the emulators lives in
this file so a restarted server sees what an earlier run wrote. `SandboxState` owns the file's
connection, its write lock and transactions; the Klaviyo tables and their reads and writes are
mixed in from `sandbox.klaviyo.list_state` (lists, memberships) and
`sandbox.klaviyo.profile_state` (profiles, bulk import jobs, data-privacy deletions), and
`sandbox.mailchimp.state` keeps Mailchimp's tables in the same file through a cursor. Writes hold
one lock; reads use their own cursor. Timestamps are naive UTC, stamped by the caller with the
sandbox clock.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sandbox.klaviyo.list_state import LIST_SCHEMA, ListState
from sandbox.klaviyo.profile_state import PROFILE_SCHEMA, ProfileState

# The tables `summary` counts for the `/sandbox/state` inspection endpoint.
_SUMMARY_TABLES = (
    "lists",
    "list_members",
    "created_profiles",
    "profile_writes",
    "import_jobs",
    "import_errors",
    "deletion_requests",
    "deleted_profiles",
)


class SandboxState(ListState, ProfileState):
    """Everything clients wrote to the emulated platforms, persisted at `path`.

    Use ":memory:" for a throwaway state in tests.
    """

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(path))
        self._con.execute(LIST_SCHEMA + PROFILE_SCHEMA)
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

    def summary(self) -> dict[str, Any]:
        """Row counts for the read-only `/sandbox/state` inspection endpoint."""
        with self.cursor() as cur:
            counts = {
                t: cur.execute(f"select count(*) from {t}").fetchone()[0] for t in _SUMMARY_TABLES
            }
            by_status = cur.execute(
                "select status, count(*) from import_jobs group by status order by status"
            ).fetchall()
        counts["import_jobs_by_status"] = dict(by_status)
        return counts

    def _write(self) -> _WriteTransaction:
        return _WriteTransaction(self)

    def _query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            result = cur.execute(sql, params)
            names = [d[0] for d in result.description]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


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
