"""Mailchimp's static segments, which are its tags: list them, create one, batch its members.

Served: `GET /lists/{list_id}/segments` (`type` filter, `count`/`offset`, `total_items`);
`POST /lists/{list_id}/segments` (a static segment: `name` and `static_segment` emails);
`POST /lists/{list_id}/segments/{segment_id}` (`members_to_add` / `members_to_remove`, at most
500 emails each, else Mailchimp's 400 problem).

A static segment and the tag of the same name are one row of state (`mailchimp_tag_state`), so
the member tags endpoint and member reads see batch changes, and the segments see tag changes.
Only static segments exist here (saved and fuzzy ones are built in Mailchimp's web app), so
`options` is refused. As Mailchimp documents, an email the audience does not hold is ignored:
it is neither among the members added or removed nor in `errors`. A member already in the
segment (for an add) or not in it (for a removal) is ignored too: the answer lists changes
only. An entry that is not an email address is reported in `errors`. `member_count` counts the
segment's subscribed members ("active subscribers").
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.members import check_email, member_resource
from sandbox.mailchimp.rest import (
    MailchimpError,
    McRequest,
    document,
    invalid,
    iso,
    not_found,
    select_fields,
    subscriber_hash,
    without_nulls,
)

MAX_SEGMENT_MEMBERS = 500  # per side of one batch call
SEGMENT_TYPES = ("saved", "static", "fuzzy")
_TOO_MANY = (
    f"Maximum allowed member items exceeded, please provide at most {MAX_SEGMENT_MEMBERS} items"
    " in members_to_add field or members_to_remove field"
)
_NOT_EMAIL = "The email address is not valid."


def get_segments(audience: Audience, request: McRequest) -> Response:
    audience.check(request)
    count, offset = request.paging()
    kind = request.query.get("type")
    if kind is not None and kind not in SEGMENT_TYPES:
        message = f"type must be one of {', '.join(SEGMENT_TYPES)}."
        raise invalid([{"field": "type", "message": message}])
    segments = audience.state.segments(audience.list_id) if kind in (None, "static") else []
    counts = _subscribed_counts(audience)
    path = f"/lists/{audience.list_id}/segments"
    body = {
        "segments": [
            _resource(request, audience, row, counts.get(row["tag_id"], 0))
            for row in segments[offset : offset + count]
        ],
        "list_id": audience.list_id,
        "total_items": len(segments),
        "_links": [request.link(path, "self"), request.link(path, "create", "POST")],
    }
    return document(select_fields(body, request.query))


def create_segment(audience: Audience, request: McRequest) -> Response:
    audience.check(request)
    payload = request.json_body()
    name = payload.get("name")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 100:
        raise invalid([{"field": "name", "message": "name must be 1-100 characters."}])
    if "options" in payload:
        message = "This sandbox serves static segments (tags) only: send static_segment."
        raise invalid([{"field": "options", "message": message}])
    emails = _emails(payload, "static_segment", required=True)
    held = _held(audience, emails)
    tag_id = audience.state.create_segment(
        audience.list_id, name.strip(), list(held.values()), request.now
    )
    if tag_id is None:
        message = f'A tag or segment named "{name.strip()}" already exists in this list.'
        raise invalid([{"field": "name", "message": message}], detail=message)
    row = next(s for s in audience.state.segments(audience.list_id) if s["tag_id"] == tag_id)
    count = _subscribed_counts(audience).get(tag_id, 0)
    return document(_resource(request, audience, row, count))


def batch_segment(audience: Audience, request: McRequest) -> Response:
    """Add and remove members by email; the members whose membership changed, and errors."""
    audience.check(request)
    tag_id = _segment_id(audience, request)
    payload = request.json_body()
    to_add = _emails(payload, "members_to_add")
    to_remove = _emails(payload, "members_to_remove")
    if max(len(to_add), len(to_remove)) > MAX_SEGMENT_MEMBERS:
        raise MailchimpError(400, "Invalid Resource", _TOO_MANY)
    refused = [e for e in dict.fromkeys(to_add + to_remove) if not _is_email(e)]
    add, remove = _held(audience, to_add), _held(audience, to_remove)
    added, removed = audience.state.change_segment(
        audience.list_id, tag_id, list(add.values()), list(remove.values()), request.now
    )
    changed = added + removed
    rows = (
        {
            row["member_id"]: row
            for row in audience.query(
                "select * from members where list_contains(?, member_id)", [changed]
            )
        }
        if changed
        else {}
    )
    fields = audience.fields()
    body = {
        "members_added": [member_resource(request, audience, rows[m], fields) for m in added],
        "members_removed": [member_resource(request, audience, rows[m], fields) for m in removed],
        "errors": [{"email_addresses": refused, "error": _NOT_EMAIL}] if refused else [],
        "total_added": len(added),
        "total_removed": len(removed),
        "error_count": len(refused),
        "_links": [request.link(f"/lists/{audience.list_id}/segments", "parent")],
    }
    return document(body)


def _resource(
    request: McRequest, audience: Audience, row: dict[str, Any], member_count: int
) -> dict[str, Any]:
    """A segment object (the spec's `List4`) for one tag."""
    path = f"/lists/{audience.list_id}/segments"
    return without_nulls(
        {
            "id": row["tag_id"],
            "name": row["name"],
            "member_count": member_count,
            "type": "static",
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
            "list_id": audience.list_id,
            "_links": [
                request.link(path, "parent"),
                request.link(f"{path}/{row['tag_id']}", "batch", "POST"),
            ],
        }
    )


def _segment_id(audience: Audience, request: McRequest) -> int:
    """The path's segment id, when it names a static segment of this audience; else 404."""
    raw = request.path_params["segment_id"]
    known = {s["tag_id"] for s in audience.state.segments(audience.list_id)}
    if not raw.isdigit() or int(raw) not in known:
        raise not_found()
    return int(raw)


def _emails(payload: dict[str, Any], key: str, *, required: bool = False) -> list[str]:
    """The array of strings under `key` (absent: empty, unless required); else a 400."""
    value = payload.get(key, None if required else [])
    if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
        message = f"{key} must be an array of email addresses."
        raise invalid([{"field": key, "message": message}])
    return value


def _is_email(value: str) -> bool:
    try:
        check_email(value)
    except MailchimpError:
        return False
    return True


def _held(audience: Audience, emails: list[str]) -> dict[str, str]:
    """Email -> member id for the emails the audience holds (the others are ignored)."""
    wanted = {e: subscriber_hash(e) for e in emails if _is_email(e)}
    if not wanted:
        return {}
    rows = audience.query(
        "select member_id from members where list_contains(?, member_id)",
        [list(set(wanted.values()))],
    )
    held = {row["member_id"] for row in rows}
    return {email: member for email, member in wanted.items() if member in held}


def _subscribed_counts(audience: Audience) -> dict[int, int]:
    """Tag id -> how many subscribed members hold it (Mailchimp's segment `member_count`)."""
    rows = audience.query(
        "select tag.id as tag_id, count(*) as n from"
        " (select unnest(tags) as tag from members where status = 'subscribed') group by all",
        [],
    )
    return {row["tag_id"]: row["n"] for row in rows}
