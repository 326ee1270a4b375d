"""Shared pieces of the sync tests: a desired state built from the small store's Klaviyo
profiles, a Klaviyo destination on a sandbox, and readers of what the sandbox holds.

The desired state is deterministic: every profile becomes a customer (`cust-<profile id>`);
segments come from the profile's position in id order; one profile in ten is named by email
only (as a customer Klaviyo was never told about would be); and one extra customer is new to
Klaviyo (plus, on request, one with an email the import rejects).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import duckdb
import requests

from pipeline.lib.clients.klaviyo_writes import KlaviyoWriteClient
from pipeline.lib.sync import DesiredContact, KlaviyoDestination, SyncLedger
from tests.lib.clients.sandbox_fixtures import quiet_session

SEGMENTS = {"vip": 5, "at_risk": 3, "tea_lovers": 4}  # segment -> every n-th profile
NEW_EMAIL = "brand.new.customer@example.com"
BAD_EMAIL = "not-an-email"


@dataclass
class StoreProfile:
    profile_id: str
    email: str | None
    marketable: bool  # subscribed, not suppressed, has an email


def store_profiles(view) -> list[StoreProfile]:
    with view.cursor() as cur:
        rows = cur.execute(
            """select profile_id, email,
                consent = 'SUBSCRIBED' and suppression_reason is null and email is not null
            from v_klaviyo_profiles order by profile_id"""
        ).fetchall()
    return [StoreProfile(*row) for row in rows]


def desired_state(
    profiles: list[StoreProfile], version: str = "v1", *, with_bad_email: bool = False
) -> list[DesiredContact]:
    """One desired contact per store profile, plus a customer new to Klaviyo (and, on request,
    one whose email Klaviyo's import rejects)."""
    contacts = []
    for n, profile in enumerate(profiles):
        segments = frozenset(name for name, every in SEGMENTS.items() if n % every == 0)
        by_email_only = n % 10 == 7 and profile.email is not None
        contacts.append(
            DesiredContact(
                customer_id=f"cust-{profile.profile_id}",
                email=profile.email,
                contact_id=None if by_email_only else profile.profile_id,
                can_receive_email_marketing=profile.marketable,
                properties={
                    "churn_probability": round((n % 97) / 97, 4),
                    "churn_tier": ("low", "medium", "high")[n % 3],
                    "segments": sorted(segments),
                    "model_version": version,
                    "is_holdout": False,
                },
                segments=segments,
            )
        )
    extra = [("cust-new", NEW_EMAIL)] + ([("cust-bad", BAD_EMAIL)] if with_bad_email else [])
    for customer_id, email in extra:
        contacts.append(
            DesiredContact(customer_id, email, None, True, {"model_version": version}, frozenset())
        )
    return contacts


@dataclass
class Harness:
    """A destination on one sandbox, with every request its client sent."""

    url: str
    client: KlaviyoWriteClient
    destination: KlaviyoDestination
    sent: list[requests.PreparedRequest] = field(default_factory=list)

    @property
    def writes_sent(self) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if r.method in ("POST", "DELETE", "PATCH")]


def harness(url: str, *, session_kwargs: dict | None = None, **destination_kwargs) -> Harness:
    session = quiet_session("Klaviyo", "KLAVIYO_API_KEY", **(session_kwargs or {}))
    clock = destination_kwargs.pop("clock", time.monotonic)
    client = KlaviyoWriteClient(url, "sandbox-key", session, clock=clock)
    result = Harness(url, client, KlaviyoDestination(client, **destination_kwargs))
    session.http.hooks["response"].append(lambda r, *_, **__: result.sent.append(r.request))
    return result


def list_members(url: str, destination: KlaviyoDestination, group: str) -> set[str]:
    """Profile ids on the group's list, read through a separate client."""
    reader = KlaviyoWriteClient(url, "sandbox-key", quiet_session("Klaviyo", "KLAVIYO_API_KEY"))
    list_id = reader.find_list(destination.list_name(group))
    return set(reader.list_member_ids(list_id)) if list_id else set()


def expected_members(profiles: list[StoreProfile], group: str) -> set[str]:
    every = SEGMENTS[group]
    return {p.profile_id for n, p in enumerate(profiles) if n % every == 0 and p.marketable}


def new_ledger() -> SyncLedger:
    return SyncLedger(duckdb.connect(":memory:"), "klaviyo")


def ledger_rows(ledger: SyncLedger, where: str = "true") -> list[tuple]:
    return ledger.con.execute(
        "select run_id, customer_id, action, target, outcome, error from activation.sync_ledger"
        f" where {where} order by all"
    ).fetchall()
