"""Mailchimp's Marketing API 3.0: one audience's merge fields, member upserts, tags, members,
and the permanent deletion of a member (erasure). Tags in bulk, through the static segment
behind each tag, are `mailchimp_segments`'s calls, and the reads of members, campaigns and email
activity by time window (Mailchimp as a source) are `mailchimp_reports`'s, and paged reads
`mailchimp_pages`'s, all mixed in here.

Members are upserted with `PUT /lists/{id}/members/{subscriber_hash}` carrying `status_if_new`
and never `status`: that is the only upsert that cannot change an existing member's consent
(the batch subscribe endpoint `POST /lists/{id}` needs a `status` for every member and applies
it to existing ones). The PUTs travel 500 at a time as batch operations (`POST /batches`, see
`mailchimp_batches`), so many upserts are one write call each 500. A new member is created
as `transactional` unless told otherwise, and this client refuses to create anyone as
`subscribed` or `pending`: a sync never subscribes. Every request goes through `ApiSession`
(retries with backoff, `Retry-After`, plain errors without keys or emails).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.lib.clients.http import ApiError, ApiSession, RequestRejectedError
from pipeline.lib.clients.mailchimp_batches import MAX_OPERATIONS, BatchCalls
from pipeline.lib.clients.mailchimp_pages import PagedReads
from pipeline.lib.clients.mailchimp_reports import ReportCalls
from pipeline.lib.clients.mailchimp_segments import SegmentCalls

log = logging.getLogger(__name__)

CREDENTIAL_ENV = "MAILCHIMP_API_KEY"
MEMBER_KEYS = ("id", "status", "email_address")  # member keys callers index by, when asked for
NEW_MEMBER_STATUSES = ("transactional", "unsubscribed", "cleaned")


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the md5 of the lower-cased email."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def base_url_for_key(api_key: str) -> str:
    """https://<dc>.api.mailchimp.com/3.0 from the key's data-centre suffix (`…-us21`)."""
    dc = api_key.rpartition("-")[2] if "-" in api_key else ""
    if not dc.isalnum():
        raise ValueError(
            f"{CREDENTIAL_ENV} does not end in a data-centre suffix such as '-us21'; "
            "check the key, or set MAILCHIMP_API_URL"
        )
    return f"https://{dc}.api.mailchimp.com/3.0"


@dataclass(frozen=True)
class MemberUpsert:
    """One member to create or update: merge values, and the status only a new member gets."""

    email: str
    merge_fields: Mapping[str, Any] = field(default_factory=dict)
    status_if_new: str = "transactional"

    def __post_init__(self) -> None:
        if self.status_if_new not in NEW_MEMBER_STATUSES:
            raise ValueError(
                f"status_if_new must be one of {', '.join(NEW_MEMBER_STATUSES)}: "
                "a sync never subscribes anyone"
            )


@dataclass(frozen=True)
class MemberOutcome:
    """What Mailchimp answered for one upsert: `ok`, else a plain, email-free `error`."""

    email: str
    ok: bool
    error: str | None = None
    status: str | None = None  # the member's status as Mailchimp holds it after the call


class MailchimpClient(PagedReads, SegmentCalls, BatchCalls, ReportCalls):
    """A Mailchimp account; `api_url` (e.g. the sandbox's http://127.0.0.1:8787/3.0) overrides
    the base URL derived from the key's data centre."""

    def __init__(
        self, api_url: str | None, api_key: str, session: ApiSession | None = None
    ) -> None:
        self.session = session or ApiSession("Mailchimp", CREDENTIAL_ENV)
        api_key = self.session.credential(api_key)
        base = (api_url or base_url_for_key(api_key)).rstrip("/")
        # Accept the base with or without the /3.0 prefix every endpoint lives under.
        self.api_url = base if base.endswith("/3.0") else f"{base}/3.0"
        # HTTP Basic with any user name is the scheme Mailchimp documents for API keys.
        self._auth = ("foresight", api_key)
        self.write_calls = 0  # logical write requests (POST/PUT), whatever their retries
        self._segments: dict[str, dict[str, int]] = {}  # see SegmentCalls

    def ping(self) -> bool:
        """True when the API answers and accepts the key (a rejected key raises
        RejectedCredentialsError naming MAILCHIMP_API_KEY)."""
        return "health_status" in self._get("/ping")

    def find_audience(self, name: str | None = None) -> dict[str, Any]:
        """The audience called `name`, or the account's only audience when `name` is None."""
        fields = {"fields": "lists.id,lists.name,total_items"}
        lists = list(self._pages("/lists", "lists", fields, required=("id", "name")))
        matches = [a for a in lists if name is None or a.get("name") == name]
        if len(matches) != 1:
            wanted = f"named {name!r}" if name else "(no name given)"
            raise ApiError(
                f"Mailchimp: expected exactly one audience {wanted}, found {len(matches)} "
                f"among {len(lists)}"
            )
        return self.get_audience(matches[0]["id"])

    def get_audience(self, list_id: str) -> dict[str, Any]:
        return self._get(f"/lists/{list_id}")

    def merge_fields(self, list_id: str) -> list[dict[str, Any]]:
        """Every merge field of the audience."""
        return list(self._pages(f"/lists/{list_id}/merge-fields", "merge_fields", {}, ("tag",)))

    def ensure_merge_fields(self, list_id: str, fields: Iterable[Mapping[str, Any]]) -> list[str]:
        """Create the fields (`{"tag", "name", "type", ...}`) whose tag is missing; the tags
        created. Safe to re-run, and to retry after a create whose answer was lost."""
        existing = {f["tag"] for f in self.merge_fields(list_id)}
        created = []
        for spec in fields:
            tag = spec["tag"]
            if tag in existing:
                continue
            try:
                self._call("POST", f"/lists/{list_id}/merge-fields", json=dict(spec))
            except RequestRejectedError:
                # A retried create may already have succeeded: trust the audience, not the error.
                if tag not in {f["tag"] for f in self.merge_fields(list_id)}:
                    raise
            existing.add(tag)
            created.append(tag)
        return created

    def upsert_members(self, list_id: str, members: Iterable[MemberUpsert]) -> list[MemberOutcome]:
        """Create or update each member (merge values only), in order; one outcome each.

        One batch call per 500 members, each a `PUT` with `status_if_new`. A member Mailchimp
        refuses (an invalid email, a bad merge value) gets an error outcome and the rest go on;
        a rejected key or an API that stops answering raises.
        """
        members = list(members)
        outcomes = []
        for start in range(0, len(members), MAX_OPERATIONS):
            chunk = members[start : start + MAX_OPERATIONS]
            # The operation id is the position in the chunk: results never carry an email.
            operations = [
                {
                    "method": "PUT",
                    "path": f"/lists/{list_id}/members/{subscriber_hash(member.email)}",
                    "operation_id": str(index),
                    "body": json.dumps(
                        {
                            "email_address": member.email.strip(),
                            "status_if_new": member.status_if_new,
                            "merge_fields": dict(member.merge_fields),
                        }
                    ),
                }
                for index, member in enumerate(chunk)
            ]
            results = self.run_batch(operations)
            for index, member in enumerate(chunk):
                result = results.get(str(index))
                if result is None:
                    error = "Mailchimp's batch results hold no answer for this member"
                    outcomes.append(MemberOutcome(member.email, False, error))
                elif result.ok:
                    status = result.body.get("status")
                    outcomes.append(MemberOutcome(member.email, True, status=status))
                else:
                    error = self.session.scrub(result.error())
                    outcomes.append(MemberOutcome(member.email, False, error))
        log.debug("Mailchimp: upserted %d members", len(outcomes))
        return outcomes

    def set_tags(
        self,
        list_id: str,
        email: str,
        active: Iterable[str] = (),
        inactive: Iterable[str] = (),
    ) -> None:
        """Mark tags active or inactive on one member (tags are created on first use)."""
        self.set_member_tags(list_id, subscriber_hash(email), active, inactive)

    def set_member_tags(
        self,
        list_id: str,
        member_hash: str,
        active: Iterable[str] = (),
        inactive: Iterable[str] = (),
    ) -> None:
        """`set_tags` for a member known by its subscriber hash (the email may be gone)."""
        tags = [{"name": n, "status": "active"} for n in active]
        tags += [{"name": n, "status": "inactive"} for n in inactive]
        if tags:
            path = f"/lists/{list_id}/members/{member_hash}/tags"
            self.write_calls += 1
            self.session.request("POST", self._url(path), auth=self._auth, json={"tags": tags})

    def delete_member_permanently(self, list_id: str, member_hash: str) -> bool:
        """Delete one member and everything Mailchimp holds about them, for good (an erasure);
        False when the audience holds no such member (404: nothing to delete). Mailchimp then
        refuses to re-import the address: only the person can sign up again."""
        path = f"/lists/{list_id}/members/{member_hash}/actions/delete-permanent"
        self.write_calls += 1
        try:
            self.session.request("POST", self._url(path), auth=self._auth).close()
        except RequestRejectedError as error:
            if error.status == 404:
                return False
            raise
        return True

    def get_member(
        self, list_id: str, member_hash: str, fields: Iterable[str] | None = None
    ) -> dict[str, Any] | None:
        """One member by subscriber hash (`fields`: member keys to keep), or None (404)."""
        params = {"fields": ",".join(fields)} if fields is not None else None
        try:
            return self._get(f"/lists/{list_id}/members/{member_hash}", params=params)
        except RequestRejectedError as error:
            if error.status == 404:
                return None
            raise

    def iter_members(
        self, list_id: str, fields: Iterable[str] | None = None, status: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every member of the audience (`fields`: member keys to keep, e.g. email_address)."""
        params: dict[str, str] = {}
        if fields is not None:
            params["fields"] = ",".join(["total_items", *(f"members.{f}" for f in fields)])
        if status is not None:
            params["status"] = status
        required = [f for f in fields or ["id"] if f in MEMBER_KEYS]
        return self._pages(f"/lists/{list_id}/members", "members", params, required)

    subscriber_hash = staticmethod(subscriber_hash)

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def _url(self, path: str) -> str:
        return f"{self.api_url}{path}"

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if method != "GET":
            self.write_calls += 1
        body = self.session.request_json(method, self._url(path), auth=self._auth, **kwargs)
        if not isinstance(body, dict):
            raise ApiError(f"Mailchimp answered {method} {path} with something not an object")
        return body
