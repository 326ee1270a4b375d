"""Writable Mailchimp state of the sandbox: merge fields, members and tags that clients wrote.

Grain: `mc_merge_fields` one row per (audience, merge field a client created); `mc_members` one
row per (audience, member a client created or changed), holding only what the client wrote (its
merge values, and a status only when one was set); `mc_deleted` one row per (audience, member
deleted permanently), the subscriber hash only. Tags, which are also static segments, are
`mailchimp_tag_state`'s (`mc_tags`, `mc_member_tags`), mixed in here.

The tables live in the sandbox state file beside Klaviyo's (through a cursor of its connection),
so a restarted server sees what an earlier run wrote. The store's people are not copied here:
the emulator overlays these rows on the store as of `now`, as the Klaviyo emulator does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pyarrow as pa

from sandbox.mailchimp.member_batch import Loaded, MemberBatch
from sandbox.mailchimp.tag_state import TAG_SCHEMA, TagState
from sandbox.state import SandboxState

# mc_members' columns after list_id, in table order, with the type each is saved as.
_WRITTEN_COLUMNS = (
    ("member_id", "varchar"),
    ("email_address", "varchar"),
    ("status", "varchar"),
    ("written", "json"),
    ("created", "timestamp"),
    ("last_changed", "timestamp"),
)
_SCHEMA = """
create table if not exists mc_merge_fields (
    list_id varchar not null, merge_id integer not null, tag varchar not null,
    definition json not null, primary key (list_id, merge_id));
create table if not exists mc_members (
    list_id varchar not null, member_id varchar not null, email_address varchar not null,
    status varchar, merge_fields json not null, created timestamp,
    last_changed timestamp not null, primary key (list_id, member_id));
create table if not exists mc_deleted (
    list_id varchar not null, member_id varchar not null, deleted_at timestamp not null,
    primary key (list_id, member_id));
"""


class MailchimpState(TagState):
    """What clients wrote to the emulated Mailchimp account; writes are serialised by one lock."""

    def __init__(self, state: SandboxState) -> None:
        self._con = state.cursor()
        self._con.execute(_SCHEMA + TAG_SCHEMA)
        self._lock = threading.RLock()  # re-entered: a member batch saves in a transaction
        self._merge_fields: dict[str, list[dict[str, Any]]] = {}

    # -- merge fields ------------------------------------------------------------------------

    def merge_fields(self, list_id: str) -> list[dict[str, Any]]:
        """Client-created merge field definitions, in creation order. Cached until
        `add_merge_field` adds one; the cache shares the write lock, so a member batch that holds
        it reads the fields without taking a second lock."""
        with self._lock:
            if list_id not in self._merge_fields:
                rows = self._rows(
                    "select definition::varchar as d from mc_merge_fields where list_id = ?"
                    " order by merge_id",
                    [list_id],
                )
                self._merge_fields[list_id] = [json.loads(row["d"]) for row in rows]
            return self._merge_fields[list_id]

    def add_merge_field(
        self, list_id: str, definition: dict[str, Any], first_id: int, taken: set[str]
    ) -> dict[str, Any] | None:
        """Store a field with the next free merge id (at least `first_id`); None if its tag is
        taken. A tag of None becomes `MMERGE<id>`, as Mailchimp names untagged fields."""
        with self._lock:
            # fetchall, not fetchone: an unfinished result would fail the connection's next
            # query (seen when a retried create finds its tag taken and returns early).
            [rows] = self._con.execute(
                "select max(merge_id), list(tag) from mc_merge_fields where list_id = ?",
                [list_id],
            ).fetchall()
            merge_id = max(first_id, (rows[0] or 0) + 1)
            tag = definition["tag"] or f"MMERGE{merge_id}"
            if tag in taken or tag in (rows[1] or []):
                return None
            stored = {**definition, "tag": tag, "merge_id": merge_id}
            self._con.execute(
                "insert into mc_merge_fields values (?, ?, ?, ?)",
                [list_id, merge_id, tag, json.dumps(stored)],
            )
            self._merge_fields.pop(list_id, None)
        return stored

    # -- members -----------------------------------------------------------------------------

    def members_table(self, list_id: str) -> pa.Table:
        """The audience's written member rows as Arrow, to join with the store's people."""
        with self._lock:
            return self._con.sql(
                "select member_id, email_address, status, merge_fields::varchar as written,"
                " created, last_changed from mc_members where list_id = $id",
                params={"id": list_id},
            ).to_arrow_table()

    def write_member(
        self,
        list_id: str,
        member_id: str,
        email_address: str,
        status: str | None,
        merge_fields: dict[str, Any],
        now: datetime,
        *,
        created: bool,
    ) -> None:
        """One member's write, as `MemberBatch.write` describes it, saved at once."""
        with self.member_batch(list_id, [member_id]) as batch:
            batch.write(member_id, email_address, status, merge_fields, now, created=created)

    @contextmanager
    def member_batch(self, list_id: str, member_ids: Iterable[str]) -> Iterator[MemberBatch]:
        """A `MemberBatch` of `member_ids`, read in three queries; the rows it changed are saved
        in one transaction when the block ends (none if it raises). The lock is held
        throughout, so no other write slips between a member's read and its write."""
        with self._lock:
            batch = MemberBatch(list_id, lambda ids: self._load_members(list_id, ids))
            batch.load(member_ids)
            yield batch
            if batch.changed:
                with self._transaction():
                    self._save_members(list_id, list(batch.changed.values()))

    def _load_members(self, list_id: str, member_ids: list[str]) -> Loaded:
        """Written rows, tombstones and tags of `member_ids` (the caller holds the lock)."""
        params = [list_id, member_ids]
        chosen = "list_id = ? and member_id in (select unnest(?::varchar[]))"
        written = self._con.execute(
            "select member_id, email_address, status, merge_fields::varchar as written,"
            f" created, last_changed from mc_members where {chosen}",
            params,
        )
        names = [d[0] for d in written.description]
        rows = {row[0]: dict(zip(names, row, strict=True)) for row in written.fetchall()}
        # Each result is fetched before the next query: a new one replaces it on the cursor.
        found = self._con.execute(f"select member_id from mc_deleted where {chosen}", params)
        deleted = {row[0] for row in found.fetchall()}
        tags: dict[str, list[dict[str, Any]]] = {}
        for member_id, tag_id, name in self._con.execute(
            "select member_id, tag_id, t.name from mc_member_tags m join mc_tags t"
            f" using (list_id, tag_id) where {chosen} order by m.added_at, tag_id",
            params,
        ).fetchall():
            tags.setdefault(member_id, []).append({"id": tag_id, "name": name})
        return rows, deleted, tags

    def _save_members(self, list_id: str, rows: list[dict[str, Any]]) -> None:
        """Replace the written rows of these members with `rows`, in one statement (columns as
        lists unnested side by side: no registered frame, which would import pandas)."""
        columns = ", ".join(f"unnest(?::{kind}[])" for _, kind in _WRITTEN_COLUMNS)
        self._con.execute(
            f"insert or replace into mc_members select ?, {columns}",
            [list_id, *([row[name] for row in rows] for name, _ in _WRITTEN_COLUMNS)],
        )

    def delete_member(self, list_id: str, member_id: str, now: datetime) -> None:
        """Forget one member for good: what clients wrote about them goes, and a tombstone
        hides the store's person behind it and refuses the address from now on."""
        with self._transaction():
            for table in ("mc_members", "mc_member_tags"):
                self._con.execute(
                    f"delete from {table} where list_id = ? and member_id = ?",
                    [list_id, member_id],
                )
            self._con.execute(
                "insert or ignore into mc_deleted values (?, ?, ?)", [list_id, member_id, now]
            )

    def deleted_table(self, list_id: str) -> pa.Table:
        """(member_id) of every member deleted permanently, as Arrow."""
        with self._lock:
            return self._con.sql(
                "select member_id from mc_deleted where list_id = $id", params={"id": list_id}
            ).to_arrow_table()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, under the lock: all of it happens or none."""
        with self._lock:
            self._con.execute("begin transaction")
            try:
                yield
                self._con.execute("commit")
            except BaseException:
                self._con.execute("rollback")
                raise

    def _rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with self._lock:
            result = self._con.execute(sql, params)
            names = [d[0] for d in result.description]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
