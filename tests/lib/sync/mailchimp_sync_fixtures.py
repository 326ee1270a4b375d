"""Shared pieces of the Mailchimp sync tests: a destination on a sandbox that records every
request, a desired state built from the small store's audience members, and readers of what
the audience holds.

The desired state is deterministic: segments come from the profile's position (`SEGMENTS`),
and one extra customer is new to the audience (`NEW_EMAIL`).
"""

from __future__ import annotations

import duckdb

from pipeline.lib.clients.mailchimp import MailchimpClient, subscriber_hash
from pipeline.lib.sync import DesiredContact, SyncLedger
from pipeline.lib.sync.mailchimp_destination import MailchimpDestination
from pipeline.lib.sync.records import Outcome, canonical_properties, properties_hash
from tests.lib.clients.sandbox_fixtures import quiet_session
from tests.lib.sync.sync_fixtures import NEW_EMAIL, SEGMENTS


class Harness:
    """A destination on one sandbox, with every request its client sent."""

    def __init__(self, url: str) -> None:
        session = quiet_session("Mailchimp", "MAILCHIMP_API_KEY")
        self.client = MailchimpClient(f"{url}/3.0", "sandbox-key", session)
        self.destination = MailchimpDestination(self.client)
        self.responses = []
        session.http.hooks["response"].append(lambda r, *_, **__: self.responses.append(r))

    @property
    def sent(self):
        return [r.request for r in self.responses]

    @property
    def writes_sent(self):
        return [r for r in self.sent if r.method != "GET"]

    def members(self) -> dict[str, dict]:
        """Subscriber hash -> member (status, merge fields, tag names), read afresh."""
        fields = ["id", "status", "merge_fields", "tags"]
        return {
            m["id"]: m | {"tags": {t["name"] for t in m["tags"]}}
            for m in self.client.iter_members(self.destination.list_id, fields=fields)
        }

    def tagged(self, group: str) -> set[str]:
        tag = self.destination.tag_name(group)
        return {h for h, m in self.members().items() if tag in m["tags"]}


def desired_state(profiles, version: str = "v1") -> list[DesiredContact]:
    """One contact per store profile with an email (segments by position), and one new email."""
    contacts = []
    for n, profile in enumerate(profiles):
        segments = frozenset(name for name, every in SEGMENTS.items() if n % every == 0)
        contacts.append(
            DesiredContact(
                customer_id=f"cust-{profile.profile_id}",
                email=profile.email,
                contact_id=None,
                can_receive_email_marketing=profile.marketable,
                properties={
                    "foresight_churn_probability": round((n % 97) / 97, 3),
                    "foresight_churn_tier": ("low", "medium", "high")[n % 3],
                    "foresight_segments": sorted(segments),
                    "foresight_model_version": version,
                    "foresight_is_holdout": n % 11 == 0,
                },
                segments=segments,
            )
        )
    props = {"foresight_model_version": version, "foresight_segments": []}
    contacts.append(DesiredContact("cust-new", NEW_EMAIL, None, True, props, frozenset({"vip"})))
    return contacts


def expected_tagged(profiles, group: str, statuses: dict[str, str]) -> set[str]:
    """Marketable in the warehouse and subscribed in Mailchimp, and in the group."""
    every = SEGMENTS[group]
    return {
        subscriber_hash(p.email)
        for n, p in enumerate(profiles)
        if n % every == 0
        and p.marketable
        and statuses.get(subscriber_hash(p.email)) == "subscribed"
    }


def new_ledger() -> SyncLedger:
    return SyncLedger(duckdb.connect(":memory:"), "mailchimp")


def is_segment_batch(request) -> bool:
    """A batch add/remove: POST /lists/{list_id}/segments/{segment_id}."""
    return request.path_url.rsplit("/", 2)[-2] == "segments"


def write_kind(request) -> str:
    """What a write request was, by its path: a member batch, a segment batch, a merge field,
    a segment (tag) create, or a member's tags call."""
    if request.path_url.endswith("/3.0/batches"):
        return "member batch"
    if is_segment_batch(request):
        return "batch"
    return {"merge-fields": "merge field", "segments": "segment", "tags": "member tags"}[
        request.path_url.rsplit("/", 1)[-1]
    ]


def acknowledged(ledger: SyncLedger, contacts: list[DesiredContact]) -> None:
    """Record the contacts' properties as set by an earlier run, so a sync only tags."""
    outcomes = [Outcome(c.customer_id, "ok", subscriber_hash(c.email)) for c in contacts]
    hashes = {
        c.customer_id: properties_hash(canonical_properties(c.customer_id, c.properties))
        for c in contacts
    }
    ledger.record("earlier-run", "set_properties", outcomes, hashes=hashes)
