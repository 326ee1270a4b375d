"""Klaviyo bulk profile import jobs and data-privacy deletion jobs.

An import is validated and applied to the state when it is accepted (one transaction), and
its status then moves queued -> processing -> complete one step per poll, so a client must
poll as it would against Klaviyo. Imports write attributes and custom properties only: they
never change consent. Limits from Klaviyo's docs: 10,000 profiles and 5 MB per job, 100 KB
per profile.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import datetime
from typing import Any

from starlette.responses import Response

from sandbox.context import SandboxContext
from sandbox.klaviyo.ids import new_ulid
from sandbox.klaviyo.jsonapi import (
    ApiRequest,
    KlaviyoError,
    check_params,
    collection_links,
    csv_param,
    document,
    invalid,
    iso,
    not_found,
    page_size,
    request_cursor,
    sparse,
)
from sandbox.klaviyo.lists import list_resource
from sandbox.klaviyo.paging import Order, keyset_page
from sandbox.klaviyo.profiles import existing_ids, fetch_profiles, ids_by, register_state

MAX_PROFILES = 10_000
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024
MAX_PROFILE_BYTES = 100 * 1024
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ATTRIBUTES = ("first_name", "last_name", "phone_number", "external_id", "organization")
_ATTRIBUTES += ("locale", "title", "image", "location")
_JOB_PATH = "/api/profile-bulk-import-jobs"
# Matching emails to profiles and recording the job must not interleave with another import,
# or two concurrent jobs could each create a profile for the same new email.
_IMPORT_LOCK = threading.Lock()


def _error(index: int, item: Any, code: str, detail: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "index": index,
        "code": code,
        "title": "Invalid input." if code == "invalid" else "Not found.",
        "detail": detail,
        "pointer": f"/data/attributes/profiles/data/{index}",
        "original_payload": item,
    }


def _profiles_payload(request: ApiRequest) -> tuple[list[Any], list[str]]:
    if len(request.body) > MAX_PAYLOAD_BYTES:
        raise KlaviyoError(413, "request_too_large", "The payload exceeds the 5 MB limit.")
    data = request.json_body()["data"]
    if not isinstance(data, dict) or data.get("type") != "profile-bulk-import-job":
        raise invalid("`data.type` must be 'profile-bulk-import-job'.", pointer="/data/type")
    profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data")
    if not isinstance(profiles, list) or not profiles:
        raise invalid("At least one profile is required.", pointer="/data/attributes/profiles")
    if len(profiles) > MAX_PROFILES:
        raise invalid(
            f"At most {MAX_PROFILES} profiles are allowed per job.",
            pointer="/data/attributes/profiles/data",
        )
    lists = ((data.get("relationships") or {}).get("lists") or {}).get("data") or []
    list_ids = [item.get("id") for item in lists if isinstance(item, dict)]
    return profiles, list_ids


def _validate(profiles: list[Any]) -> tuple[list[tuple[int, dict, dict]], list[dict]]:
    """Split the job's profiles into (index, item, attributes) to import and per-profile errors."""
    valid, errors = [], []
    for index, item in enumerate(profiles):
        attrs = item.get("attributes") if isinstance(item, dict) else None
        email = attrs.get("email") if isinstance(attrs, dict) else None
        if not isinstance(attrs, dict) or item.get("type") != "profile":
            errors.append(_error(index, item, "invalid", "Each item must be a profile object."))
        elif len(json.dumps(item)) > MAX_PROFILE_BYTES:
            errors.append(_error(index, item, "invalid", "The profile exceeds 100 KB."))
        elif email is not None and not (isinstance(email, str) and _EMAIL.fullmatch(email.strip())):
            errors.append(_error(index, item, "invalid", f"Invalid email address: {email!r}."))
        elif not (item.get("id") or email or attrs.get("phone_number")):
            detail = "A profile needs an id, an email or a phone_number."
            errors.append(_error(index, item, "invalid", detail))
        else:
            valid.append((index, item, attrs))
    return valid, errors


def _lookups(ctx: SandboxContext, valid: list[tuple[int, dict, dict]]) -> tuple[dict, dict, dict]:
    """Stored email per live profile id named in the job; live ids per email and per phone."""
    ids = [item["id"] for _, item, _ in valid if item.get("id")]
    emails = [a["email"].strip().lower() for _, _, a in valid if a.get("email")]
    phones = [a["phone_number"] for _, _, a in valid if a.get("phone_number")]
    with ctx.view.cursor() as cur:
        register_state(cur, ctx)
        by_id = {pid: row["email"] for pid, row in fetch_profiles(cur, ids).items()}
    by_email = ids_by(ctx, "email", emails) if emails else {}
    by_phone = ids_by(ctx, "phone_number", phones) if phones else {}
    return by_id, by_email, by_phone


def _resolve(ctx: SandboxContext, profiles: list[Any], now: datetime) -> tuple[list, dict, list]:
    """Match each profile to an existing or new profile id; collect writes and errors."""
    valid, errors = _validate(profiles)
    by_id, by_email, by_phone = _lookups(ctx, valid)
    created: list[dict[str, Any]] = []
    writes: dict[str, tuple[dict, dict]] = {}
    for index, item, attrs in valid:
        email = attrs["email"].strip() if attrs.get("email") else None
        phone = attrs.get("phone_number")
        profile_id = item.get("id")
        if profile_id and profile_id not in by_id:
            errors.append(_error(index, item, "not_found", f"No profile {profile_id}."))
            continue
        if profile_id and email and (by_id[profile_id] or "").strip().lower() != email.lower():
            detail = "The email does not match the profile's email."
            errors.append(_error(index, item, "invalid", detail))
            continue
        if not profile_id:
            found = (email and by_email.get(email.lower())) or (phone and by_phone.get(phone))
            profile_id = found[0] if found else new_ulid(now)
            if not found:
                created.append({"profile_id": profile_id, "email": email, "phone_number": phone})
                # Later rows of the same job with this email or phone reuse the new profile.
                if email:
                    by_email[email.lower()] = [profile_id]
                if phone:
                    by_phone[phone] = [profile_id]
        new_attrs = {k: attrs[k] for k in _ATTRIBUTES if attrs.get(k) is not None}
        props = attrs.get("properties") if isinstance(attrs.get("properties"), dict) else {}
        old_attrs, old_props = writes.get(profile_id, ({}, {}))
        writes[profile_id] = (old_attrs | new_attrs, old_props | props)
    errors.sort(key=lambda e: e["index"])
    return created, writes, errors


def _job_resource(request: ApiRequest, job: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    done = job["status"] == "complete"
    attributes = {
        "status": job["status"],
        "created_at": iso(job["created_at"]),
        "total_count": job["total_count"],
        # Counts are final only once the job completes; until then nothing is reported done.
        "completed_count": job["completed_count"] if done else 0,
        "failed_count": job["failed_count"] if done else 0,
        "completed_at": iso(job["completed_at"]),
        "expires_at": None,
        "started_at": iso(job["started_at"]),
    }
    path = f"{_JOB_PATH}/{job['job_id']}"
    return {
        "type": "profile-bulk-import-job",
        "id": job["job_id"],
        "attributes": sparse(attributes, fields),
        "relationships": {
            "lists": {
                "data": [{"type": "list", "id": i} for i in job["list_ids"]],
                "links": {
                    "self": request.link(f"{path}/relationships/lists"),
                    "related": request.link(f"{path}/lists"),
                },
            },
            "profiles": {
                "links": {
                    "self": request.link(f"{path}/relationships/profiles"),
                    "related": request.link(f"{path}/profiles"),
                }
            },
            "import-errors": {"links": {"related": request.link(f"{path}/import-errors")}},
        },
        "links": {"self": request.link(path)},
    }


def create_import_job(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, {"fields[profile-bulk-import-job]"})
    profiles, list_ids = _profiles_payload(request)
    for list_id in list_ids:
        if ctx.state.get_list(list_id) is None:
            raise not_found(f"A list with id {list_id} does not exist.")
    job = {"job_id": new_ulid(request.now), "total_count": len(profiles), "list_ids": list_ids}
    with _IMPORT_LOCK:
        created, writes, errors = _resolve(ctx, profiles, request.now)
        ctx.state.record_import(job, created, writes, errors, request.now)
    row = ctx.state.get_import_job(job["job_id"])
    data = _job_resource(request, row, csv_param(request, "fields[profile-bulk-import-job]"))
    return document({"data": data, "links": {"self": data["links"]["self"]}}, 202)


def get_import_job(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, {"fields[list]", "fields[profile-bulk-import-job]", "include"})
    include = csv_param(request, "include", {"lists"})
    job = ctx.state.get_import_job(request.path_params["job_id"], advance_at=request.now)
    if job is None:
        raise not_found(
            f"A bulk import job with id {request.path_params['job_id']} does not exist."
        )
    fields = csv_param(request, "fields[profile-bulk-import-job]")
    body: dict[str, Any] = {
        "data": _job_resource(request, job, fields),
        "links": {"self": str(request.url)},
    }
    if include:
        list_fields = csv_param(request, "fields[list]")
        rows = [ctx.state.get_list(i) for i in job["list_ids"]]
        body["included"] = [list_resource(request, r, fields=list_fields) for r in rows if r]
    return document(body)


def get_import_errors(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, {"fields[import-error]", "page[cursor]", "page[size]"})
    job_id = request.path_params["id"]
    if ctx.state.get_import_job(job_id) is None:
        raise not_found(f"A bulk import job with id {job_id} does not exist.")
    size = page_size(request, 20, 100)
    with ctx.state.cursor() as cur:
        rows, next_c, prev_c = keyset_page(
            cur,
            "select * from import_errors where job_id = ?",
            [job_id],
            Order((("seq", "integer"),)),
            "seq",
            request_cursor(request, "seq"),
            size,
        )
    fields = csv_param(request, "fields[import-error]")
    data = []
    for row in rows:
        attributes = {
            "code": row["code"],
            "title": row["title"],
            "detail": row["detail"],
            "source": {"pointer": row["pointer"]},
            "original_payload": json.loads(row["original_payload"]),
        }
        data.append(
            {
                "type": "import-error",
                "id": row["error_id"],
                "attributes": sparse(attributes, fields),
            }
        )
    return document({"data": data, "links": collection_links(request, next_c, prev_c)})


def request_deletion(ctx: SandboxContext, request: ApiRequest) -> Response:
    """Erase every profile matching one identifier (id, email or phone number); 202, no body."""
    check_params(request, set())
    data = request.json_body()["data"]
    if not isinstance(data, dict) or data.get("type") != "data-privacy-deletion-job":
        raise invalid("`data.type` must be 'data-privacy-deletion-job'.", pointer="/data/type")
    profile = ((data.get("attributes") or {}).get("profile") or {}).get("data")
    if not isinstance(profile, dict) or profile.get("type") != "profile":
        raise invalid("A profile is required.", pointer="/data/attributes/profile/data")
    attrs = profile.get("attributes")
    if not isinstance(attrs, dict):
        pointer = "/data/attributes/profile/data/attributes"
        raise invalid("`attributes` is required (it may be empty).", pointer=pointer)
    given = {
        "id": profile.get("id"),
        "email": attrs.get("email"),
        "phone_number": attrs.get("phone_number"),
    }
    given = {k: v for k, v in given.items() if v}
    if len(given) != 1:
        raise invalid(
            "Provide exactly one of id, email or phone_number.",
            pointer="/data/attributes/profile/data",
        )
    kind, value = next(iter(given.items()))
    if kind == "id":
        ids = sorted(existing_ids(ctx, [value]))
    else:
        key = value.strip().lower() if kind == "email" else value
        ids = ids_by(ctx, kind, [key]).get(key, [])
    ctx.state.delete_profiles(kind, value, ids, request.now)
    return document(None, 202)
