"""Klaviyo as a sync destination: properties through bulk profile import jobs, groups as static
lists (one per segment, named `list_prefix + segment`) through list relationships.

Profiles are named by Klaviyo id when known, else by email (an import then creates a profile for
a new email, never subscribed). A profile id Klaviyo no longer knows is reported as an error and
never retried by email: the person may have been erased, and must not come back.
Before any add, the profiles' live consent is read back from Klaviyo and anyone who cannot
receive email marketing there is skipped, whatever the warehouse said.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from pipeline.lib.clients.klaviyo_writes import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_PROFILES,
    MAX_LIST_MEMBERS_PER_CALL,
    KlaviyoWriteClient,
)
from pipeline.lib.sync.records import Member, Outcome, PropertyWrite

# Room for the job envelope around the profiles within Klaviyo's 5 MB per job.
_IMPORT_BUDGET = MAX_IMPORT_BYTES - 64 * 1024


class KlaviyoDestination:
    """The `Destination` for one Klaviyo account. No request is made until a method is called."""

    name = "klaviyo"

    def __init__(
        self,
        client: KlaviyoWriteClient,
        *,
        list_prefix: str = "Foresight: ",
        property_batch_size: int = MAX_IMPORT_PROFILES,
        group_batch_size: int = MAX_LIST_MEMBERS_PER_CALL,
    ) -> None:
        if not 0 < property_batch_size <= MAX_IMPORT_PROFILES:
            raise ValueError(f"property_batch_size must be 1 to {MAX_IMPORT_PROFILES}")
        if not 0 < group_batch_size <= MAX_LIST_MEMBERS_PER_CALL:
            raise ValueError(f"group_batch_size must be 1 to {MAX_LIST_MEMBERS_PER_CALL}")
        self.client = client
        self.list_prefix = list_prefix
        self.property_batch_size = property_batch_size
        self.group_batch_size = group_batch_size
        self._list_ids: dict[str, str] = {}

    @property
    def write_calls(self) -> int:
        return self.client.write_calls

    def list_name(self, group: str) -> str:
        return f"{self.list_prefix}{group}"

    # -- properties ----------------------------------------------------------------------------

    def set_properties(self, writes: Sequence[PropertyWrite]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for chunk in _by_size(writes):
            outcomes += self._import(chunk)
        return outcomes

    def _import(self, writes: list[tuple[PropertyWrite, dict[str, Any]]]) -> list[Outcome]:
        job_id = self.client.start_profile_import([item for _, item in writes])
        job = self.client.wait_for_import(job_id)
        if job["status"] != "complete":
            reason = f"Klaviyo import job {job_id} ended {job['status']}"
            return [Outcome(w.customer_id, "error", w.contact_id, reason) for w, _ in writes]
        failed: dict[int, str] = {}
        if job.get("failed_count"):
            for error in self.client.import_errors(job_id):
                if error["index"] is not None:
                    failed[error["index"]] = f"{error['code']}: {error['detail']}"
        by_email = {}
        new_emails = [
            w.email.strip().lower()
            for i, (w, _) in enumerate(writes)
            if i not in failed and not w.contact_id and w.email
        ]
        if new_emails:
            by_email = self.client.marketing_consent(emails=new_emails)
        outcomes = []
        for index, (write, _) in enumerate(writes):
            contact_id = write.contact_id
            if contact_id is None and write.email:
                contact_id = (by_email.get(write.email.strip().lower()) or (None,))[0]
            if index in failed:
                outcomes.append(Outcome(write.customer_id, "error", contact_id, failed[index]))
            elif contact_id is None:
                reason = "the imported profile could not be found by email afterwards"
                outcomes.append(Outcome(write.customer_id, "error", None, reason))
            else:
                outcomes.append(Outcome(write.customer_id, "ok", contact_id))
        return outcomes

    # -- lists ---------------------------------------------------------------------------------

    def add_to_group(self, group: str, members: Sequence[Member]) -> list[Outcome]:
        outcomes, known = _needs_contact_id(members)
        if not known:
            return outcomes
        live = self.client.marketing_consent(ids=[m.contact_id for m in known])
        allowed = []
        for member in known:
            found = live.get(member.contact_id)
            if found is None:
                reason = "the Klaviyo profile no longer exists"
                outcomes.append(Outcome(member.customer_id, "skipped", member.contact_id, reason))
            elif not found[1]:
                reason = "Klaviyo says this profile cannot receive email marketing"
                outcomes.append(Outcome(member.customer_id, "skipped", member.contact_id, reason))
            else:
                allowed.append(member)
        if allowed:
            list_id = self._list_id(group, create=True)
            self.client.add_to_list(list_id, [m.contact_id for m in allowed])
        return outcomes + [Outcome(m.customer_id, "ok", m.contact_id) for m in allowed]

    def remove_from_group(self, group: str, members: Sequence[Member]) -> list[Outcome]:
        outcomes, known = _needs_contact_id(members)
        list_id = self._list_id(group, create=False) if known else None
        if list_id is not None:
            self.client.remove_from_list(list_id, [m.contact_id for m in known])
        # No list by that name means no membership to remove: done as far as we are concerned.
        return outcomes + [Outcome(m.customer_id, "ok", m.contact_id) for m in known]

    def _list_id(self, group: str, *, create: bool) -> str | None:
        if group not in self._list_ids:
            name = self.list_name(group)
            found = self.client.ensure_list(name) if create else self.client.find_list(name)
            if found is None:
                return None
            self._list_ids[group] = found
        return self._list_ids[group]


def profile_item(write: PropertyWrite) -> dict[str, Any]:
    """A bulk-import profile: by id when known, else by email; properties only, no consent."""
    item: dict[str, Any] = {"type": "profile", "attributes": {"properties": dict(write.properties)}}
    if write.contact_id:
        item["id"] = write.contact_id
    else:
        item["attributes"]["email"] = write.email
    return item


def _by_size(writes: Sequence[PropertyWrite]) -> Iterator[list[tuple[PropertyWrite, dict]]]:
    """Import-sized chunks: at most 10,000 profiles and about 5 MB of JSON each."""
    chunk: list[tuple[PropertyWrite, dict]] = []
    size = 0
    for write in writes:
        item = profile_item(write)
        item_size = len(json.dumps(item, separators=(",", ":"))) + 1
        if chunk and (len(chunk) == MAX_IMPORT_PROFILES or size + item_size > _IMPORT_BUDGET):
            yield chunk
            chunk, size = [], 0
        chunk.append((write, item))
        size += item_size
    if chunk:
        yield chunk


def _needs_contact_id(members: Sequence[Member]) -> tuple[list[Outcome], list[Member]]:
    """(skipped outcomes for members without a Klaviyo profile id yet, members with one)."""
    missing = [
        Outcome(m.customer_id, "skipped", None, "no Klaviyo profile id yet")
        for m in members
        if not m.contact_id
    ]
    return missing, [m for m in members if m.contact_id]
