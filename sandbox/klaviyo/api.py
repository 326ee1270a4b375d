"""Klaviyo REST API emulator: the routes, and the checks every Klaviyo request goes through.

Each request is checked the way Klaviyo does: `Authorization: Klaviyo-API-Key <key>`, a valid
`revision` header, a JSON:API media type on bodies, then the operation's rate limit; the
handler then runs in a worker thread because it queries DuckDB.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.context import SandboxContext
from sandbox.klaviyo import events as klaviyo_events
from sandbox.klaviyo import jobs as klaviyo_jobs
from sandbox.klaviyo import lists as klaviyo_lists
from sandbox.klaviyo import profiles as klaviyo_profiles
from sandbox.klaviyo.jsonapi import (
    MEDIA_TYPE,
    TITLES,
    ApiRequest,
    KlaviyoError,
    invalid,
)
from sandbox.klaviyo.ratelimit import RateLimiter

Handler = Callable[[SandboxContext, ApiRequest], Response]

# path -> {method: (operationId in the spec, handler)}
OPERATIONS: dict[str, dict[str, tuple[str, Handler]]] = {
    "/api/profiles": {"GET": ("get_profiles", klaviyo_profiles.get_profiles)},
    "/api/profiles/{id}": {"GET": ("get_profile", klaviyo_profiles.get_profile)},
    "/api/metrics": {"GET": ("get_metrics", klaviyo_events.get_metrics)},
    "/api/metrics/{id}": {"GET": ("get_metric", klaviyo_events.get_metric)},
    "/api/events": {"GET": ("get_events", klaviyo_events.get_events)},
    "/api/lists": {
        "GET": ("get_lists", klaviyo_lists.get_lists),
        "POST": ("create_list", klaviyo_lists.create_list),
    },
    "/api/lists/{id}": {
        "GET": ("get_list", klaviyo_lists.get_list),
        "PATCH": ("update_list", klaviyo_lists.update_list),
        "DELETE": ("delete_list", klaviyo_lists.delete_list),
    },
    "/api/lists/{id}/relationships/profiles": {
        "GET": ("get_profile_ids_for_list", klaviyo_lists.get_member_ids),
        "POST": ("add_profiles_to_list", klaviyo_lists.add_profiles),
        "DELETE": ("remove_profiles_from_list", klaviyo_lists.remove_profiles),
    },
    "/api/lists/{id}/profiles": {"GET": ("get_profiles_for_list", klaviyo_lists.get_members)},
    "/api/profile-bulk-import-jobs": {
        "POST": ("bulk_import_profiles", klaviyo_jobs.create_import_job),
    },
    "/api/profile-bulk-import-jobs/{job_id}": {
        "GET": ("get_bulk_import_profiles_job", klaviyo_jobs.get_import_job),
    },
    "/api/profile-bulk-import-jobs/{id}/import-errors": {
        "GET": ("get_errors_for_bulk_import_profiles_job", klaviyo_jobs.get_import_errors),
    },
    "/api/data-privacy-deletion-jobs": {
        "POST": ("request_profile_deletion", klaviyo_jobs.request_deletion),
    },
}
_REVISION = re.compile(r"(\d{4}-\d{2}-\d{2})(\.[a-z0-9_-]+)?")
_BODY_TYPES = {MEDIA_TYPE, "application/json"}
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def check_auth(request: Request, api_token: str) -> str:
    """Return the private key, or raise the error Klaviyo answers for a bad credential."""
    header = request.headers.get("authorization", "").strip()
    if not header:
        raise KlaviyoError(401, "not_authenticated", "Missing Authorization header.")
    scheme, _, key = header.partition(" ")
    if scheme != "Klaviyo-API-Key":
        raise KlaviyoError(
            403,
            "not_authenticated",
            "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
            title=TITLES[401],
        )
    if key.strip() != api_token:
        raise KlaviyoError(
            401,
            "authentication_failed",
            "Incorrect authentication credentials.",
            title="Incorrect authentication credentials.",
        )
    return key.strip()


def check_revision(request: Request) -> None:
    """`revision` is required and must look like YYYY-MM-DD[.suffix] with a real date."""
    revision = request.headers.get("revision")
    if revision is None:
        raise invalid("The 'revision' header is required.", parameter="revision")
    match = _REVISION.fullmatch(revision.strip())
    try:
        date.fromisoformat(match.group(1) if match else "")
    except ValueError as exc:
        detail = f"Invalid revision '{revision}': expected YYYY-MM-DD[.suffix]."
        raise invalid(detail, parameter="revision") from exc


def klaviyo_routes(ctx: SandboxContext) -> list[BaseRoute]:
    """Starlette routes emulating Klaviyo's REST API (with and without a trailing slash)."""
    limiter = RateLimiter(ctx.rate_limit_scale, ctx.clock)

    def endpoint(methods: dict[str, tuple[str, Handler]]):
        async def handle(request: Request) -> Response:
            limit_headers: dict[str, str] = {}
            try:
                if request.method not in methods:
                    allow = ", ".join(sorted(methods))
                    detail = f'Method "{request.method}" not allowed.'
                    raise KlaviyoError(405, "method_not_allowed", detail, headers={"Allow": allow})
                operation, handler = methods[request.method]
                key = check_auth(request, ctx.api_token)
                check_revision(request)
                body = await request.body()
                media_type = request.headers.get("content-type", "").split(";")[0].strip()
                if body and media_type not in _BODY_TYPES:
                    detail = f'Unsupported media type "{media_type}" in request.'
                    raise KlaviyoError(415, "unsupported_media_type", detail)
                limit_headers = limiter.acquire(key, operation)
                api_request = ApiRequest(
                    url=request.url,
                    base=str(request.base_url).rstrip("/"),
                    path_params=dict(request.path_params),
                    query=request.query_params,
                    now=ctx.view.now,
                    body=body,
                )
                response = await run_in_threadpool(handler, ctx, api_request)
            except KlaviyoError as error:
                response = error.response()
            response.headers.update(limit_headers)
            return response

        return handle

    routes: list[BaseRoute] = []
    for path, methods in OPERATIONS.items():
        handle = endpoint(methods)
        for variant in (path, path + "/"):
            # Every method reaches the handler so an unsupported one gets Klaviyo's 405 document.
            routes.append(Route(variant, handle, methods=_ALL_METHODS))
    return routes
