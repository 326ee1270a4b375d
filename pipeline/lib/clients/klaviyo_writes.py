"""Klaviyo's write calls for activation: profile properties, static lists, privacy deletion.

Only calls that never touch consent are here. Profile properties go through bulk profile import
jobs, which write attributes and custom properties and nothing else; the body is built without a
`subscriptions` field, and bulk subscribe is never called (it would clear unsubscribes). List
membership is not consent either: whoever calls `add_profiles_to_list` checks consent first
(`marketing_consent`). Every call is paced by the client's token bucket per endpoint (see
`klaviyo.KLAVIYO_TIERS`), so a sync does not provoke 429s; the ones that still happen are retried
by `ApiSession`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from pipeline.lib.clients.http import ApiError, ApiSession, UncertainWriteError
from pipeline.lib.clients.klaviyo import JSON_API, KlaviyoClient

MAX_IMPORT_PROFILES = 10_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_LIST_MEMBERS_PER_CALL = 1_000
MAX_FILTER_VALUES = 100  # `any(...)` values per get_profiles call, one page of 100
_FINISHED = {"complete", "cancelled"}


class KlaviyoWriteClient(KlaviyoClient):
    """`KlaviyoClient` plus the write calls a sync and an erasure need, rate-limited per endpoint.

    `write_calls` counts logical write calls (each POST or DELETE, whatever its retries).
    `clock` and `sleep` drive the rate limiter and job polling; tests inject them.
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        session: ApiSession | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        poll_timeout: float = 1800.0,
    ) -> None:
        super().__init__(api_url, api_key, session, clock=clock)
        self.poll_timeout = poll_timeout
        self._clock = clock
        self.write_calls = 0

    # -- profile properties ---------------------------------------------------------------

    def start_profile_import(self, profiles: Sequence[dict[str, Any]]) -> str:
        """Start a bulk import of profile items (`profile_item`); the job id.

        At most 10,000 profiles and 5 MB per job, checked here so the caller learns it before
        Klaviyo answers 400/413.
        """
        if not 0 < len(profiles) <= MAX_IMPORT_PROFILES:
            raise ValueError(f"a profile import takes 1 to {MAX_IMPORT_PROFILES} profiles")
        body = {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {"profiles": {"data": list(profiles)}},
            }
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        if len(payload) > MAX_IMPORT_BYTES:
            raise ValueError(f"a profile import is {len(payload)} bytes; Klaviyo allows 5 MB")
        answer = self._write(
            "POST", "/api/profile-bulk-import-jobs", "bulk_import_profiles", payload
        )
        return answer["data"]["id"]

    def wait_for_import(self, job_id: str) -> dict[str, Any]:
        """Poll the job with growing pauses until it finishes; its final attributes."""
        deadline = self._clock() + self.poll_timeout
        pause = 0.5
        while True:
            self.limiter.acquire("get_bulk_import_profiles_job")
            body = self.session.request_json(
                "GET",
                f"{self.api_url}/api/profile-bulk-import-jobs/{job_id}",
                headers=self._headers,
            )
            attributes = body["data"]["attributes"]
            if attributes["status"] in _FINISHED:
                return attributes
            if self._clock() + pause > deadline:
                raise ApiError(
                    f"Klaviyo's profile import {job_id} did not finish within "
                    f"{self.poll_timeout:.0f} s (last status: {attributes['status']})"
                )
            self.session.wait(pause, throttled=False)
            pause = min(pause * 2, 30.0)

    def import_errors(self, job_id: str) -> Iterator[dict[str, Any]]:
        """The job's per-profile errors: {index, code, detail}. The detail is scrubbed of
        emails; the rejected payload (which holds the email) is not passed on."""
        path = f"/api/profile-bulk-import-jobs/{job_id}/import-errors"
        for error in self._collection(
            "get_errors_for_bulk_import_profiles_job", path, {"page[size]": "100"}
        ):
            attributes = error.get("attributes") or {}
            pointer = (attributes.get("source") or {}).get("pointer") or ""
            index = pointer.rsplit("/", 1)[-1]
            yield {
                "index": int(index) if index.isdigit() else None,
                "code": attributes.get("code"),
                "detail": self.session.scrub(str(attributes.get("detail") or "")),
            }

    # -- reading profiles for identity and consent -------------------------------------------

    def marketing_consent(self, *, ids: Iterable[str] = (), emails: Iterable[str] = ()) -> dict:
        """Live profiles matching `ids` or `emails`: {key: (profile id, can receive marketing)}.

        Keys are the ids asked for, or the emails trimmed and lower-cased; profiles that do not
        exist are absent.
        """
        found: dict[str, tuple[str, bool]] = {}
        for field, values in (("id", list(ids)), ("email", list(emails))):
            for start in range(0, len(values), MAX_FILTER_VALUES):
                chunk = values[start : start + MAX_FILTER_VALUES]
                params = {
                    "filter": f"any({field},{json.dumps(chunk)})",
                    "fields[profile]": "email,subscriptions",
                    "additional-fields[profile]": "subscriptions",
                    "page[size]": str(MAX_FILTER_VALUES),
                }
                for profile in self._collection("get_profiles", "/api/profiles", params):
                    if not profile.get("id"):
                        # Whose consent this is cannot be told: fail the batch, retry next run.
                        raise ApiError("Klaviyo answered a profile without its id")
                    attributes = profile.get("attributes") or {}
                    marketing = ((attributes.get("subscriptions") or {}).get("email") or {}).get(
                        "marketing"
                    ) or {}
                    allowed = marketing.get("can_receive_email_marketing") is True
                    email = (attributes.get("email") or "").strip().lower()
                    key = profile["id"] if field == "id" else email
                    found.setdefault(key, (profile["id"], allowed))
        return found

    # -- static lists ------------------------------------------------------------------------

    def find_list(self, name: str) -> str | None:
        """The id of the oldest list named exactly `name`, or None."""
        params = {"filter": f"equals(name,{json.dumps(name)})", "sort": "created"}
        for found in self._collection("get_lists", "/api/lists", params):
            if (found.get("attributes") or {}).get("name") == name:
                if not found.get("id"):
                    # Creating another would duplicate the list: fail, the re-run looks again.
                    raise ApiError("Klaviyo answered a list without its id")
                return found["id"]
        return None

    def ensure_list(self, name: str) -> str:
        """The id of the list named `name`, created when missing.

        The create is never re-sent blindly: when its answer is lost, the list may exist, so
        the next attempt looks for it first (a blind retry would make a second list)."""
        body = {"data": {"type": "list", "attributes": {"name": name}}}
        payload = json.dumps(body).encode()
        attempt = 0
        while (found := self.find_list(name)) is None:
            attempt += 1
            try:
                created = self._write("POST", "/api/lists", "create_list", payload, once=True)
                return created["data"]["id"]
            except UncertainWriteError:
                if attempt >= self.session.max_attempts:
                    raise
                self.session.wait(self.session.backoff(attempt), throttled=False)
        return found

    def add_to_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        """Add up to 1,000 profiles to a list (adding a member again changes nothing)."""
        self._membership("POST", "add_profiles_to_list", list_id, profile_ids)

    def remove_from_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        """Remove up to 1,000 profiles from a list (removing a non-member changes nothing)."""
        self._membership("DELETE", "remove_profiles_from_list", list_id, profile_ids)

    def list_member_ids(self, list_id: str) -> Iterator[str]:
        """Every profile id on the list."""
        path = f"/api/lists/{list_id}/relationships/profiles"
        for member in self._collection("get_profile_ids_for_list", path, {"page[size]": "100"}):
            if not member.get("id"):
                raise ApiError("Klaviyo answered a list member without its id")
            yield member["id"]

    # -- privacy -----------------------------------------------------------------------------

    def request_deletion(self, *, profile_id: str | None = None, email: str | None = None) -> None:
        """File a data-privacy deletion for one person, named by profile id or by email."""
        if (profile_id is None) == (email is None):
            raise ValueError("name the person by exactly one of profile_id or email")
        profile: dict[str, Any] = {"type": "profile", "attributes": {}}
        if profile_id is not None:
            profile["id"] = profile_id
        else:
            profile["attributes"]["email"] = email
        body = {
            "data": {
                "type": "data-privacy-deletion-job",
                "attributes": {"profile": {"data": profile}},
            }
        }
        payload = json.dumps(body).encode()
        self._write("POST", "/api/data-privacy-deletion-jobs", "request_profile_deletion", payload)

    # -- plumbing ----------------------------------------------------------------------------

    def _membership(
        self, method: str, operation: str, list_id: str, profile_ids: Sequence[str]
    ) -> None:
        if not 0 < len(profile_ids) <= MAX_LIST_MEMBERS_PER_CALL:
            raise ValueError(f"a list call takes 1 to {MAX_LIST_MEMBERS_PER_CALL} profiles")
        body = {"data": [{"type": "profile", "id": pid} for pid in profile_ids]}
        path = f"/api/lists/{list_id}/relationships/profiles"
        self._write(method, path, operation, json.dumps(body).encode())

    def _write(
        self, method: str, path: str, operation: str, payload: bytes, *, once: bool = False
    ) -> Any:
        self.limiter.acquire(operation)
        self.write_calls += 1
        headers = {**self._headers, "content-type": JSON_API}
        send = self.session.request_once if once else self.session.request
        response = send(method, f"{self.api_url}{path}", data=payload, headers=headers)
        with response:
            # 202/204 answers of some write calls carry no body.
            return response.json() if response.content else None
