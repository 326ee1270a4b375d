"""Mailchimp Marketing API 3.0 emulator: the endpoints a sync and a source need, under `/3.0/...`.

Served: `GET /ping`; `GET /lists` and `GET /lists/{list_id}` (one audience named after the
shop); `GET`/`POST /lists/{list_id}/merge-fields`; `POST /lists/{list_id}` (batch subscribe);
`GET /lists/{list_id}/members`, `GET`/`PUT /lists/{list_id}/members/{subscriber_hash}`;
`POST /lists/{list_id}/members/{subscriber_hash}/tags` (204);
`POST /lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent` (204, see
`mailchimp_forget`); `GET`/`POST /lists/{list_id}/segments` and
`POST /lists/{list_id}/segments/{segment_id}` (static segments, which are tags: see
`mailchimp_segments`); `GET /campaigns`, `GET /reports/{campaign_id}/email-activity` and
`GET /reports/{campaign_id}/unsubscribed` (what the shop sent and who did what: see `reports`);
`POST /batches` and `GET /batches/{batch_id}` (batch operations, run in
the background through these same handlers, results as a gzipped archive: see `batches`).

Which upsert a sync uses — read from the spec (3.0.85) and Mailchimp's reference: the batch
endpoint `POST /lists/{list_id}` takes at most 500 members, but its members carry only `status`
(there is no `status_if_new`), Mailchimp requires that status for every member, and
`update_existing: true` applies it to members who already exist ("whether this batch operation
will change existing members' subscription status"). A batch upsert therefore always sets a
status, and could resubscribe or re-file someone. `PUT /lists/{list_id}/members/{hash}` takes
`status_if_new`, which applies only when the member is created; an existing member's status
stays exactly as it is. So syncs upsert with that PUT and never send `status`, many at a time
through batch operations (`POST /batches`), which run each PUT as if it were called directly.
The batch subscribe endpoint is emulated too (500-member cap, `status` required, per-member
`errors`) so that choice stays demonstrable and a client that tried it would meet Mailchimp's
behaviour.

Every request is checked as Mailchimp does: HTTP Basic `anystring:<key>` or `Bearer <key>`
(401 problem otherwise), then the account's cap on simultaneous connections (10; beyond it a
429 problem). Handlers run in a worker thread because they query DuckDB.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.context import SandboxContext
from sandbox.mailchimp import audience as audience_api
from sandbox.mailchimp import batch_subscribe
from sandbox.mailchimp import forget as forget_api
from sandbox.mailchimp import members as members_api
from sandbox.mailchimp import reports as reports_api
from sandbox.mailchimp import segments as segments_api
from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.batches import RESULTS_PATH, BatchRunner
from sandbox.mailchimp.rest import MailchimpError, McRequest, document

Handler = Callable[[Audience, McRequest], Response]
PREFIX = "/3.0"
MAX_CONNECTIONS = 10  # Mailchimp's limit of simultaneous connections per account
_MEMBER = "/lists/{list_id}/members/{subscriber_hash}"
OPERATIONS: dict[str, dict[str, Handler]] = {
    "/ping": {"GET": lambda _a, _r: document({"health_status": "Everything's Chimpy!"})},
    "/lists": {"GET": audience_api.get_lists},
    "/lists/{list_id}": {"GET": audience_api.get_list, "POST": batch_subscribe.batch_members},
    "/lists/{list_id}/merge-fields": {
        "GET": audience_api.get_merge_fields,
        "POST": audience_api.create_merge_field,
    },
    "/lists/{list_id}/members": {"GET": members_api.get_members},
    "/lists/{list_id}/segments": {
        "GET": segments_api.get_segments,
        "POST": segments_api.create_segment,
    },
    "/lists/{list_id}/segments/{segment_id}": {"POST": segments_api.batch_segment},
    _MEMBER: {"GET": members_api.get_member, "PUT": members_api.put_member},
    f"{_MEMBER}/tags": {"POST": members_api.post_tags},
    f"{_MEMBER}/actions/delete-permanent": {"POST": forget_api.delete_permanent},
}
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


class ConnectionLimiter:
    """Counts requests in flight; past `limit` a request is refused, as Mailchimp does."""

    def __init__(self, limit: int = MAX_CONNECTIONS) -> None:
        self.limit = limit
        self.in_flight = 0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            if self.in_flight >= self.limit:
                detail = f"You have exceeded the limit of {self.limit} simultaneous connections."
                raise MailchimpError(429, "Too Many Requests", detail)
            self.in_flight += 1

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1


def check_auth(request: Request, api_key: str) -> None:
    """Accept `Basic base64(anystring:<key>)` or `Bearer <key>`; raise Mailchimp's 401."""
    header = request.headers.get("authorization", "").strip()
    if not header:
        raise MailchimpError(401, "API Key Missing", "Your request did not include an API key.")
    scheme, _, credential = header.partition(" ")
    key = None
    if scheme.lower() == "bearer":
        key = credential.strip()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credential.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        key = decoded.partition(":")[2] if ":" in decoded else None
    if key != api_key:
        detail = "Your API key may be invalid, or you've attempted to access the wrong datacenter."
        raise MailchimpError(401, "API Key Invalid", detail)


def mailchimp_routes(
    ctx: SandboxContext, limiter: ConnectionLimiter | None = None
) -> list[BaseRoute]:
    """Starlette routes emulating Mailchimp's Marketing API (with and without a trailing slash)."""
    audience = Audience(ctx)
    limiter = limiter or ConnectionLimiter()
    batches = BatchRunner(audience, OPERATIONS, {members_api.put_member: members_api.put_members})
    reports = reports_api.Reports(audience)
    operations = {
        **OPERATIONS,
        "/campaigns": {"GET": lambda _a, r: reports_api.get_campaigns(reports, r)},
        "/reports/{campaign_id}/email-activity": {
            "GET": lambda _a, r: reports_api.get_email_activity(reports, r)
        },
        "/reports/{campaign_id}/unsubscribed": {
            "GET": lambda _a, r: reports_api.get_unsubscribed(reports, r)
        },
        "/batches": {"POST": batches.submit},
        "/batches/{batch_id}": {"GET": batches.status},
    }

    def endpoint(methods: dict[str, Handler]):
        async def handle(request: Request) -> Response:
            try:
                check_auth(request, ctx.api_token)
                limiter.acquire()
            except MailchimpError as error:
                return error.response()
            try:
                if request.method not in methods:
                    raise MailchimpError(
                        405,
                        "Method Not Allowed",
                        "The requested method and resource are not compatible. See the Allow"
                        " header for this resource's available methods.",
                        headers={"Allow": ", ".join(sorted(methods))},
                    )
                api_request = McRequest(
                    base=str(request.base_url).rstrip("/") + PREFIX,
                    path_params=dict(request.path_params),
                    query=request.query_params,
                    now=ctx.view.now,
                    body=await request.body(),
                )
                handler = methods[request.method]
                return await run_in_threadpool(handler, audience, api_request)
            except MailchimpError as error:
                return error.response()
            finally:
                limiter.release()

        return handle

    routes: list[BaseRoute] = [Route(RESULTS_PATH + "/{batch_id}.tar.gz", batches.results)]
    for path, methods in operations.items():
        handle = endpoint(methods)
        for variant in (PREFIX + path, PREFIX + path + "/"):
            # Every method reaches the handler so an unsupported one gets Mailchimp's 405.
            routes.append(Route(variant, handle, methods=_ALL_METHODS))
    return routes
