"""What clients wrote about a set of audience members, read once and written back in one go.

A `MemberBatch` holds, per member it was asked about, the written `mc_members` row (or None),
whether the member was deleted permanently, and its tags. Upserts change the held rows in
memory, in order, so a later operation of the same batch sees an earlier one exactly as it would
after a commit; `MailchimpState.member_batch` reads the members in three queries and saves the
changed rows in one transaction. Grain: one entry per member id of one audience.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

# (written rows by member, deleted member ids, tags by member) for the given member ids.
Loaded = tuple[dict[str, dict[str, Any]], set[str], dict[str, list[dict[str, Any]]]]


def merge_patch(target: Any, patch: Any) -> Any:
    """`patch` applied to `target` as a JSON merge patch (RFC 7396), with keys in the order
    DuckDB's `json_merge_patch` leaves them (untouched keys first, then the patch's), so a
    value reads back the same whether it was merged here or in SQL."""
    if not isinstance(patch, dict):
        return patch
    base = target if isinstance(target, dict) else {}
    merged = {key: value for key, value in base.items() if key not in patch}
    for key, value in patch.items():
        if value is not None:
            merged[key] = merge_patch(base.get(key), value)
    return merged


class MemberBatch:
    """Written rows, tombstones and tags of some members; `write` changes them in memory and
    records the row for saving. Members not loaded up front are loaded when first asked for."""

    def __init__(self, list_id: str, load: Callable[[list[str]], Loaded]) -> None:
        self.list_id = list_id
        self._load = load
        self._written: dict[str, dict[str, Any] | None] = {}
        self._deleted: set[str] = set()
        self._tags: dict[str, list[dict[str, Any]]] = {}
        self.changed: dict[str, dict[str, Any]] = {}  # member id -> row to save

    def load(self, member_ids: Iterable[str]) -> None:
        """Read the members not held yet, in one round of queries."""
        missing = [m for m in dict.fromkeys(member_ids) if m not in self._written]
        if not missing:
            return
        written, deleted, tags = self._load(missing)
        for member_id in missing:
            self._written[member_id] = written.get(member_id)
            self._tags[member_id] = tags.get(member_id, [])
        self._deleted |= deleted

    def written(self, member_id: str) -> dict[str, Any] | None:
        """The member's written row (member_id, email_address, status, written, created,
        last_changed), or None when no client wrote to it."""
        self.load([member_id])
        return self._written[member_id]

    def is_deleted(self, member_id: str) -> bool:
        self.load([member_id])
        return member_id in self._deleted

    def tags(self, member_id: str) -> list[dict[str, Any]]:
        """The member's active tags ({id, name}), oldest first."""
        self.load([member_id])
        return self._tags[member_id]

    def write(
        self,
        member_id: str,
        email_address: str,
        status: str | None,
        merge_fields: dict[str, Any],
        now: datetime,
        *,
        created: bool,
    ) -> None:
        """Merge `merge_fields` key by key into earlier writes; set `status` unless None.

        `created` marks a member the client added (not one of the store's people); the first
        write's stamp stays. Values are never JSON null (an empty string clears a field), so the
        merge patch drops nothing.
        """
        before = self.written(member_id)
        earlier = json.loads(before["written"]) if before else {}
        row = {
            "member_id": member_id,
            "email_address": email_address,
            "status": status if status is not None else (before or {}).get("status"),
            "written": json.dumps(merge_patch(earlier, merge_fields)),
            "created": before["created"] if before else (now if created else None),
            "last_changed": now,
        }
        self._written[member_id] = row
        self.changed[member_id] = row
