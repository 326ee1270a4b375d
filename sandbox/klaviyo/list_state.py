"""Klaviyo static lists and memberships that clients wrote, in the sandbox state file.

Grain: `lists` one row per list a client created; `list_members` one row per (list, profile).
`ListState` is mixed into `SandboxState`, which owns the connection, the lock and transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from sandbox.klaviyo.ids import new_list_id

LIST_SCHEMA = """
create table if not exists lists (
    list_id varchar primary key, name varchar not null, opt_in_process varchar,
    created timestamp not null, updated timestamp not null);
create table if not exists list_members (
    list_id varchar not null, profile_id varchar not null, added_at timestamp not null,
    primary key (list_id, profile_id));
"""


class ListState:
    """List and membership reads and writes of `SandboxState`."""

    def create_list(self, name: str, opt_in_process: str | None, now: datetime) -> dict:
        """Create a list with a fresh 6-character id (Klaviyo's list id shape) and return it."""
        with self._write() as con:
            while True:
                list_id = new_list_id()
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

    @staticmethod
    def _add_members(
        con: duckdb.DuckDBPyConnection, list_id: str, profile_ids: Iterable[str], now: datetime
    ) -> int:
        """Insert memberships inside the caller's transaction; returns how many were new."""
        ids = pa.table({"profile_id": pa.array(sorted(set(profile_ids)), pa.string())})
        con.register("_ids", ids)
        before = _count(con, "list_members where list_id = ?", [list_id])
        con.execute(
            "insert or ignore into list_members select ?, profile_id, ? from _ids",
            [list_id, now],
        )
        con.unregister("_ids")
        return _count(con, "list_members where list_id = ?", [list_id]) - before


def _count(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> int:
    return con.execute(f"select count(*) from {where}", params).fetchone()[0]
