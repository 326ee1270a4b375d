"""Permanent deletion of audience members, as Mailchimp does it for a GDPR erasure.

`POST /lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent` removes the member
and everything written about it (merge values, tags), answering 204; a member the audience does
not hold (never there, or already deleted) is Mailchimp's 404 problem. Afterwards the member is
gone from every read, and the address cannot be re-imported: an upsert of it is refused with
400 "Forgotten Email Not Subscribed" (only the person can sign up again, through a form).
Tombstones live in the sandbox state (`mailchimp_state`), so a restarted server keeps them.
"""

from __future__ import annotations

from starlette.responses import Response

from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.member_batch import MemberBatch
from sandbox.mailchimp.rest import MailchimpError, McRequest, document, not_found


def delete_permanent(audience: Audience, request: McRequest) -> Response:
    audience.check(request)
    member_id = request.member_id()
    if audience.member(member_id) is None:
        raise not_found()
    audience.state.delete_member(audience.list_id, member_id, request.now)
    return document(None)


def refuse_forgotten(batch: MemberBatch, member_id: str, email: str) -> None:
    """Mailchimp's 400 when a new member would bring back a permanently deleted address."""
    if batch.is_deleted(member_id):
        detail = (
            f"{email} was permanently deleted and cannot be re-imported. The contact must"
            " re-subscribe to get back on the list."
        )
        raise MailchimpError(400, "Forgotten Email Not Subscribed", detail)
