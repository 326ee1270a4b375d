"""Mailchimp tags in bulk, through the static segment behind each tag.

Mailchimp files every tag as a static segment with the same name and id ("static segments are
now known as tags"), so tagging many members is one `POST /lists/{id}/segments/{segment_id}`
with up to 500 emails to add and 500 to remove, instead of one tags call per member. Segments
are read with `GET /lists/{id}/segments?type=static` and created with
`POST /lists/{id}/segments`. The batch addresses members by email only. Mailchimp ignores an
email the audience does not hold: it appears neither among the members added or removed nor in
`errors`, so a caller must account for every email itself.

`SegmentCalls` is mixed into `MailchimpClient`, which supplies `session`, `_call` and `_pages`
(every write goes through `_call`, which counts it in `write_calls`; `_pages` refuses a record
without the keys it is asked for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.lib.clients.http import ApiSession, RequestRejectedError

MAX_SEGMENT_BATCH = 500  # emails per side (add, remove) of one batch call


def email_key(email: str) -> str:
    """How Mailchimp matches an address: trimmed and lower-cased."""
    return email.strip().lower()


@dataclass(frozen=True)
class SegmentBatch:
    """Mailchimp's answer to one batch, by `email_key`: the members added, the members removed,
    and the members refused with Mailchimp's reason (emails and keys scrubbed from it)."""

    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    errors: Mapping[str, str] = field(default_factory=dict)


class SegmentCalls:
    """Static segment (tag) calls of `MailchimpClient`."""

    session: ApiSession
    _pages: Callable[..., Iterator[dict[str, Any]]]
    _segments: dict[str, dict[str, int]]  # list id -> lower-cased tag name -> segment id

    def find_tag_segment(self, list_id: str, name: str) -> int | None:
        """The id of the static segment behind tag `name` (names match case-insensitively, as
        in Mailchimp), or None. Segments are read once per audience and cached; a name the
        cache lacks is looked up afresh, since the tag may be newer than the cache."""
        cached = list_id in self._segments
        found = self._segment_ids(list_id).get(_name_key(name))
        if found is None and cached:
            self._segments.pop(list_id)
            found = self._segment_ids(list_id).get(_name_key(name))
        return found

    def find_or_create_tag_segment(self, list_id: str, name: str) -> int:
        """`find_tag_segment` from the cache, creating an empty static segment (the tag) when
        the audience has none. Safe to retry after a create whose answer was lost."""
        found = self._segment_ids(list_id).get(_name_key(name))
        if found is not None:
            return found
        body = {"name": name, "static_segment": []}
        try:
            created = int(self._call("POST", f"/lists/{list_id}/segments", json=body)["id"])
        except RequestRejectedError:
            # The name may be taken by a tag newer than the cache (or by a retried create that
            # had succeeded): trust the audience, not the error.
            found = self.find_tag_segment(list_id, name)
            if found is None:
                raise
            return found
        self._segments[list_id][_name_key(name)] = created
        return created

    def batch_segment_members(
        self, list_id: str, segment_id: int, add: Iterable[str], remove: Iterable[str]
    ) -> SegmentBatch:
        """Add the members with emails `add` to the segment and take `remove` out of it, in one
        call (none when both are empty); at most `MAX_SEGMENT_BATCH` emails each."""
        add, remove = list(add), list(remove)
        if max(len(add), len(remove)) > MAX_SEGMENT_BATCH:
            raise ValueError(
                f"at most {MAX_SEGMENT_BATCH} emails to add and {MAX_SEGMENT_BATCH} to remove "
                "per segment batch"
            )
        if not add and not remove:
            return SegmentBatch()
        body = {"members_to_add": add, "members_to_remove": remove}
        try:
            answer = self._call("POST", f"/lists/{list_id}/segments/{segment_id}", json=body)
        except RequestRejectedError as error:
            if error.status == 404:
                # The segment was deleted in Mailchimp: the next lookup must not trust the cache.
                self._segments.pop(list_id, None)
            raise
        errors = {}
        for entry in answer.get("errors") or []:
            reason = self.session.scrub(entry.get("error") or "Mailchimp refused the member")
            errors |= {email_key(e): reason for e in entry.get("email_addresses") or []}
        return SegmentBatch(
            frozenset(_emails(answer, "members_added")),
            frozenset(_emails(answer, "members_removed")),
            errors,
        )

    def _segment_ids(self, list_id: str) -> dict[str, int]:
        if list_id not in self._segments:
            params = {"type": "static", "fields": "segments.id,segments.name,total_items"}
            segments = self._pages(
                f"/lists/{list_id}/segments", "segments", params, required=("id", "name")
            )
            self._segments[list_id] = {_name_key(s["name"]): int(s["id"]) for s in segments}
        return self._segments[list_id]


def _name_key(name: str) -> str:
    return name.strip().lower()


def _emails(answer: Mapping[str, Any], key: str) -> Iterator[str]:
    for member in answer.get(key) or []:
        yield email_key(member["email_address"])
