"""Mailchimp audience members: read, upsert (PUT, alone or many in a batch operation), tags;
their batch subscribe is `batch_subscribe`, their permanent deletion `mailchimp_forget`.

A member is addressed by its subscriber hash, the md5 of the lower-cased email (the email itself
is accepted too, as Mailchimp does). Consent rules, as Mailchimp applies them:
- PUT creates a missing member with `status_if_new` (or `status`) and never touches an existing
  member's status unless `status` is sent;
- the batch endpoint needs a `status` for every member and, with `update_existing`, applies it to
  existing members;
- nobody unsubscribed or cleaned can be set back to `subscribed` (Member In Compliance State);
- a permanently deleted address cannot be added again (Forgotten Email Not Subscribed).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from sandbox.mailchimp.audience import STATUSES, Audience
from sandbox.mailchimp.forget import refuse_forgotten
from sandbox.mailchimp.member_batch import MemberBatch
from sandbox.mailchimp.merge import check_values
from sandbox.mailchimp.rest import (
    MailchimpError,
    McRequest,
    document,
    instant_param,
    invalid,
    iso,
    not_found,
    select_fields,
    subscriber_hash,
    without_nulls,
)

WRITABLE = STATUSES[:-1]  # `archived` is reached by archiving, never set
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_BLOCKED = {"unsubscribed": {"subscribed"}, "cleaned": {"subscribed", "pending"}}


def member_resource(
    request: McRequest, audience: Audience, row: dict[str, Any], fields: list[dict]
) -> dict[str, Any]:
    """A member object; merge_fields lists every field of the audience ("" when empty)."""
    merge = {field["tag"]: "" for field in fields}
    for tag, column in (("FNAME", "first_name"), ("LNAME", "last_name"), ("PHONE", "phone_number")):
        merge[tag] = row.get(column) or ""
    merge |= json.loads(row["written"] or "{}")
    member_id = row["member_id"]
    path = f"/lists/{audience.list_id}/members/{member_id}"
    names = " ".join(n for n in (row.get("first_name"), row.get("last_name")) if n)
    record = {
        "id": member_id,
        "email_address": row["email_address"],
        "unique_email_id": hashlib.md5(f"u{member_id}".encode()).hexdigest()[:10],
        "contact_id": hashlib.md5(f"c{member_id}".encode()).hexdigest(),
        "full_name": names,
        "web_id": int(member_id[:7], 16),
        "email_type": "html",
        "status": row["status"],
        "consents_to_one_to_one_messaging": True,
        "merge_fields": merge,
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": "",
        "timestamp_signup": iso(row["timestamp_signup"]),
        "ip_opt": "",
        "timestamp_opt": iso(row["timestamp_opt"]),
        "member_rating": 2,
        "last_changed": iso(row["last_changed"]),
        "language": "",
        "vip": False,
        "email_client": "",
        "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0},
        "source": "API - Generic" if row["written"] else "Shopify",
        "tags_count": len(row["tags"]),
        "tags": row["tags"],
        "list_id": audience.list_id,
        "_links": [
            request.link(path, "self"),
            request.link(path, "upsert", "PUT"),
            request.link(f"{path}/tags", "tags", "POST"),
        ],
    }
    return without_nulls(record)


def get_members(audience: Audience, request: McRequest) -> Response:
    audience.check(request)
    count, offset = request.paging()
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise invalid([{"field": "status", "message": f"Status must be one of {STATUSES}."}])
    conditions, params = (["status = ?"], [status]) if status else ([], [])
    # Mailchimp's since/before_last_changed: strictly after, strictly before.
    for name, operator in (("since_last_changed", ">"), ("before_last_changed", "<")):
        if name in request.query:
            conditions.append(f"last_changed {operator} ?")
            params.append(instant_param(request, name))
    where = f"where {' and '.join(conditions)}" if conditions else ""
    rows = audience.query(
        f"select *, count(*) over () as total_items from members {where}"
        " order by timestamp_signup, member_id limit ? offset ?",
        [*params, count, offset],
    )
    if rows:
        total = rows[0]["total_items"]
    else:
        total = audience.query(f"select count(*) as n from members {where}", params)[0]["n"]
    fields = audience.fields()
    path = f"/lists/{audience.list_id}/members"
    body = {
        "members": [member_resource(request, audience, row, fields) for row in rows],
        "list_id": audience.list_id,
        "total_items": total,
        "_links": [request.link(path, "self"), request.link(path, "create", "POST")],
    }
    return document(select_fields(body, request.query))


def get_member(audience: Audience, request: McRequest) -> Response:
    audience.check(request)
    row = audience.member(request.member_id())
    if row is None:
        raise not_found()
    body = member_resource(request, audience, row, audience.fields())
    return document(select_fields(body, request.query))


def check_email(email: Any) -> str:
    """The address stripped, or Mailchimp's 400 when it does not look like an email."""
    if not isinstance(email, str) or not _EMAIL.fullmatch(email.strip()):
        shown = email if isinstance(email, str) else ""
        detail = f"{shown} looks fake or invalid, please enter a real email address."
        raise MailchimpError(400, "Invalid Resource", detail)
    return email.strip()


def _check_status(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is not None and value not in WRITABLE:
        message = f"{key} must be one of {', '.join(WRITABLE)}."
        raise invalid([{"field": key, "message": message}])
    return value


def _compliance(email: str, current: str, wanted: str | None) -> None:
    if wanted in _BLOCKED.get(current, set()):
        detail = (
            f"{email} is in a compliance state due to unsubscribe, bounce, or compliance review"
            " and cannot be subscribed."
        )
        raise MailchimpError(400, "Member In Compliance State", detail)


def write_member(
    audience: Audience,
    batch: MemberBatch,
    request: McRequest,
    payload: dict[str, Any],
    status_key: str | None,
) -> tuple[dict[str, Any], bool]:
    """Create or update one member from a PUT body or a batch item; (row, created)."""
    email = check_email(payload.get("email_address"))
    member_id = subscriber_hash(email)
    status = _check_status(payload, "status")
    status_if_new = _check_status(payload, status_key) if status_key else None
    existing = audience.member_in(batch, member_id)
    merge = check_values(
        audience.fields(),
        payload.get("merge_fields"),
        new_member=existing is None,
        skip_required=request.flag("skip_merge_validation"),
    )
    if existing is None:
        refuse_forgotten(batch, member_id, email)
        initial = status_if_new or status
        if initial is None:
            field = status_key or "status"
            raise invalid([{"field": field, "message": "This value should not be blank."}])
        batch.write(member_id, email, initial, merge, request.now, created=True)
    else:
        _compliance(email, existing["status"], status)
        changed = status if status != existing["status"] else None
        batch.write(member_id, email, changed, merge, request.now, created=False)
    return audience.member_in(batch, member_id), existing is None


def put_member(audience: Audience, request: McRequest) -> Response:
    (answer,) = put_members(audience, [request])
    return answer


def put_members(audience: Audience, requests: list[McRequest]) -> list[Response]:
    """`PUT .../members/{subscriber_hash}` for each request, in order, each answered exactly as
    alone; the members are read once for all of them and saved in one transaction."""
    with audience.member_batch(request.member_id() for request in requests) as batch:
        return [_answer(lambda r=request: _put(audience, batch, r)) for request in requests]


def _put(audience: Audience, batch: MemberBatch, request: McRequest) -> Response:
    audience.check(request)
    payload = request.json_body()
    email = check_email(payload.get("email_address"))
    if subscriber_hash(email) != request.member_id():
        message = "The subscriber hash in the URL does not match the email address."
        raise invalid([{"field": "email_address", "message": message}])
    row, _ = write_member(audience, batch, request, payload, "status_if_new")
    return document(member_resource(request, audience, row, audience.fields()))


def _answer(handle: Callable[[], Response]) -> Response:
    """The handler's answer, or its Mailchimp problem as the answer."""
    try:
        return handle()
    except MailchimpError as error:
        return error.response()


def post_tags(audience: Audience, request: McRequest) -> Response:
    audience.check(request)
    tags = request.json_body().get("tags")
    ok = isinstance(tags, list) and all(
        isinstance(t, dict)
        and isinstance(t.get("name"), str)
        and 0 < len(t["name"].strip()) <= 100
        and t.get("status") in ("active", "inactive")
        for t in tags
    )
    if not ok:
        message = "tags must be a list of {name (1-100 characters), status: active|inactive}."
        raise invalid([{"field": "tags", "message": message}])
    member_id = request.member_id()
    if audience.member(member_id) is None:
        raise not_found()
    active = [t["name"].strip() for t in tags if t["status"] == "active"]
    inactive = [t["name"].strip() for t in tags if t["status"] == "inactive"]
    audience.state.set_tags(audience.list_id, member_id, active, inactive, request.now)
    return document(None)
