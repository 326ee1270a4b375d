"""Mailchimp's batch subscribe, `POST /lists/{list_id}`: up to 500 members in one call.

Every member needs a `status`; with `update_existing` an existing member is updated (and its
status applied, within the compliance rules of `mailchimp_members`), without it an existing
member is refused with `ERROR_CONTACT_EXISTS`. Each member succeeds or fails on its own: the
answer lists the new members, the updated ones and per-member errors. The members are read once
for the whole call and saved in one transaction.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.members import check_email, member_resource, write_member
from sandbox.mailchimp.rest import MailchimpError, McRequest, document, invalid, subscriber_hash

MAX_BATCH = 500
_EXISTS = "is already a list member. Use PUT to insert or update list members."


def batch_members(audience: Audience, request: McRequest) -> Response:
    """POST /lists/{list_id}: up to 500 members, each with a `status`; per-member errors."""
    audience.check(request)
    payload = request.json_body()
    members = payload.get("members")
    if not isinstance(members, list) or len(members) > MAX_BATCH:
        message = f"members must be a list of at most {MAX_BATCH} members."
        raise invalid([{"field": "members", "message": message}])
    update_existing = payload.get("update_existing") is True
    skip_duplicates = request.flag("skip_duplicate_check")
    fields, seen = audience.fields(), set()
    created, updated, errors = [], [], []
    emails = [item.get("email_address") for item in members if isinstance(item, dict)]
    with audience.member_batch(subscriber_hash(e) for e in emails if isinstance(e, str)) as batch:
        for item in members:
            email = item.get("email_address") if isinstance(item, dict) else None
            try:
                if not isinstance(item, dict) or item.get("status") is None:
                    message = "This value should not be blank."
                    raise invalid([{"field": "status", "message": message}])
                key = subscriber_hash(check_email(email))
                if key in seen:
                    if skip_duplicates:
                        continue
                    raise MailchimpError(400, "Duplicate", f"{email} appears more than once.")
                seen.add(key)
                if not update_existing and audience.member_in(batch, key) is not None:
                    errors.append(_batch_error(email, "ERROR_CONTACT_EXISTS", _EXISTS, None))
                    continue
                row, is_new = write_member(audience, batch, request, item, None)
                resource = member_resource(request, audience, row, fields)
                (created if is_new else updated).append(resource)
            except MailchimpError as error:
                field = (error.errors or [{}])[0]
                errors.append(_batch_error(email, "ERROR_GENERIC", error.detail, field))
    body = {
        "new_members": created,
        "updated_members": updated,
        "errors": errors,
        "total_created": len(created),
        "total_updated": len(updated),
        "error_count": len(errors),
        "_links": [request.link(f"/lists/{audience.list_id}", "parent")],
    }
    return document(body)


def _batch_error(email: Any, code: str, message: str, field: dict | None) -> dict[str, Any]:
    shown = email if isinstance(email, str) else ""
    if code == "ERROR_CONTACT_EXISTS":
        message = f"{shown} {message}"
    error = {"email_address": shown, "error": message, "error_code": code}
    if field:
        error |= {"field": field.get("field", ""), "field_message": field.get("message", "")}
    return error
