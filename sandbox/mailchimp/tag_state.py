"""Tags of the sandbox Mailchimp audience, which are also its static segments.

Mailchimp files a tag as a static segment ("static segments are now known as tags"): the tag
named N and the static segment named N are one thing, with one id, and a member holds the tag
exactly when it belongs to the segment. So both live here once: `mc_tags` one row per (audience,
tag), whose `tag_id` is the segment id, and `mc_member_tags` one row per (audience, member,
tag). The member tags endpoint, member reads and the segment endpoints all read and write these
rows, so each sees what the others did. Names match case-insensitively; the first spelling
stays.

`TagState` is mixed into `MailchimpState`, which owns the connection, the lock and transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

TAG_SCHEMA = """
create table if not exists mc_tags (
    list_id varchar not null, tag_id integer not null, name varchar not null,
    primary key (list_id, tag_id));
alter table mc_tags add column if not exists created_at timestamp;
alter table mc_tags add column if not exists updated_at timestamp;
create table if not exists mc_member_tags (
    list_id varchar not null, member_id varchar not null, tag_id integer not null,
    added_at timestamp not null, primary key (list_id, member_id, tag_id));
"""


class TagState:
    """Tag (static segment) reads and writes of `MailchimpState`."""

    def set_tags(
        self,
        list_id: str,
        member_id: str,
        active: Iterable[str],
        inactive: Iterable[str],
        now: datetime,
    ) -> None:
        """Add the member to `active` tags (creating them) and remove it from `inactive` ones."""
        with self._transaction():
            for name in active:
                tag_id = self._tag_id(list_id, name, now)
                self._change(list_id, tag_id, [member_id], [], now)
            for name in inactive:
                tag_id = self._tag_id(list_id, name, None)
                if tag_id is not None:
                    self._change(list_id, tag_id, [], [member_id], now)

    def tags_table(self, list_id: str) -> pa.Table:
        """(member_id, tag_id, name) of every active tag of the audience, as Arrow."""
        with self._lock:
            return self._con.sql(
                "select m.member_id, t.tag_id, t.name, m.added_at from mc_member_tags m"
                " join mc_tags t using (list_id, tag_id) where list_id = $id",
                params={"id": list_id},
            ).to_arrow_table()

    def segments(self, list_id: str) -> list[dict[str, Any]]:
        """Every tag as a static segment (tag_id, name, created_at, updated_at), by id."""
        return self._rows(
            "select tag_id, name, created_at, updated_at from mc_tags where list_id = ?"
            " order by tag_id",
            [list_id],
        )

    def create_segment(
        self, list_id: str, name: str, member_ids: Iterable[str], now: datetime
    ) -> int | None:
        """A new tag holding `member_ids`; its id, or None when the name is taken."""
        with self._transaction():
            if self._tag_id(list_id, name, None) is not None:
                return None
            tag_id = self._tag_id(list_id, name, now)
            self._change(list_id, tag_id, member_ids, [], now)
        return tag_id

    def change_segment(
        self,
        list_id: str,
        tag_id: int,
        add: Iterable[str],
        remove: Iterable[str],
        now: datetime,
    ) -> tuple[list[str], list[str]]:
        """Add and remove members of one tag in one transaction; (added, removed): only the
        members whose membership changed."""
        with self._transaction():
            return self._change(list_id, tag_id, add, remove, now)

    def _change(
        self, list_id: str, tag_id: int, add: Iterable[str], remove: Iterable[str], now: datetime
    ) -> tuple[list[str], list[str]]:
        holders = {
            row[0]
            for row in self._con.execute(
                "select member_id from mc_member_tags where list_id = ? and tag_id = ?",
                [list_id, tag_id],
            ).fetchall()
        }
        added = [m for m in dict.fromkeys(add) if m not in holders]
        removed = [m for m in dict.fromkeys(remove) if m in holders.union(added)]
        for member_id in added:
            self._con.execute(
                "insert into mc_member_tags values (?, ?, ?, ?)", [list_id, member_id, tag_id, now]
            )
        for member_id in removed:
            self._con.execute(
                "delete from mc_member_tags where list_id = ? and member_id = ? and tag_id = ?",
                [list_id, member_id, tag_id],
            )
        if added or removed:
            self._con.execute(
                "update mc_tags set updated_at = ? where list_id = ? and tag_id = ?",
                [now, list_id, tag_id],
            )
        return added, removed

    def _tag_id(self, list_id: str, name: str, now: datetime | None) -> int | None:
        """The tag's id; a missing tag is created when `now` is given, else None."""
        # fetchall, not fetchone: an unfinished result would fail the connection's next query.
        found = self._con.execute(
            "select tag_id from mc_tags where list_id = ? and lower(name) = lower(?)",
            [list_id, name],
        ).fetchall()
        if found or now is None:
            return found[0][0] if found else None
        [(tag_id,)] = self._con.execute(
            "select coalesce(max(tag_id), 0) + 1 from mc_tags where list_id = ?", [list_id]
        ).fetchall()
        self._con.execute(
            "insert into mc_tags (list_id, tag_id, name, created_at, updated_at)"
            " values (?, ?, ?, ?, ?)",
            [list_id, tag_id, name, now, now],
        )
        return tag_id
