"""Consent across the two marketing platforms: each sync trusts the platform it writes to.

Two people the warehouse (wrongly, or from the other platform) holds as marketable and in a
segment: Ana unsubscribed through Mailchimp but is still subscribed in Klaviyo; Ben unsubscribed
in Klaviyo but is subscribed in Mailchimp. The Mailchimp sync must never tag Ana, and the Klaviyo
sync must never list Ben, whatever the other platform says. (That one unsubscribe anywhere keeps
a person out of every sync's segments is the customers mart's rule, tested in dbt.)"""

from __future__ import annotations

import duckdb
import pytest
import requests

from pipeline.lib.clients.mailchimp import MailchimpClient, subscriber_hash
from pipeline.lib.sync import DesiredContact, SyncLedger, sync
from pipeline.lib.sync.mailchimp_destination import MailchimpDestination
from sandbox.mailchimp.audience import audience_id
from sandbox.mailchimp.state import MailchimpState
from sandbox.shopify.resolvers import ShopInfo
from tests.lib.clients.sandbox_fixtures import quiet_session
from tests.lib.sync.sync_fixtures import harness, list_members, store_profiles

pytestmark = pytest.mark.integration
GROUP = "vip"


def _people(view):
    """Ana: subscribed everywhere in the store; Ben: unsubscribed (not suppressed otherwise)."""
    with view.cursor() as cur:
        ben_id, ben_email = cur.execute(
            "select profile_id, lower(email) from v_klaviyo_profiles where consent = 'UNSUBSCRIBED'"
            " and suppression_reason = 'UNSUBSCRIBE' and email like '%@%.%' order by profile_id"
        ).fetchall()[0]
    ana = next(p for p in store_profiles(view) if p.marketable)
    return (ana.profile_id, ana.email.strip().lower()), (ben_id, ben_email)


def _contact(profile_id: str, email: str) -> DesiredContact:
    # The warehouse says marketable and in the segment: the platform must overrule it.
    return DesiredContact(
        f"cust-{profile_id}", email, profile_id, True, {"foresight_segments": [GROUP]},
        frozenset({GROUP}),
    )  # fmt: skip


def test_each_sync_trusts_only_the_consent_of_the_platform_it_writes_to(sandbox, small_store_view):
    (ana_id, ana), (ben_id, ben) = _people(small_store_view)
    list_id = audience_id(ShopInfo().name)
    # Ana unsubscribes through Mailchimp (its API, as its unsubscribe link would).
    http = requests.Session()
    http.auth = ("anystring", "sandbox-key")
    answer = http.put(
        f"{sandbox.url}/3.0/lists/{list_id}/members/{subscriber_hash(ana)}",
        json={"email_address": ana, "status": "unsubscribed"},
    )
    assert answer.status_code == 200 and answer.json()["status"] == "unsubscribed"
    # Ben re-subscribed through a Mailchimp sign-up form (written into the emulator's state:
    # no API may subscribe someone who unsubscribed).
    MailchimpState(sandbox.ctx.state).write_member(
        list_id, subscriber_hash(ben), ben, "subscribed", {}, small_store_view.now, created=False
    )
    desired = [_contact(ana_id, ana), _contact(ben_id, ben)]

    klaviyo = harness(sandbox.url)
    sync(desired, klaviyo.destination, SyncLedger(duckdb.connect(":memory:"), "klaviyo"))
    assert list_members(sandbox.url, klaviyo.destination, GROUP) == {ana_id}

    client = MailchimpClient(
        f"{sandbox.url}/3.0", "sandbox-key", quiet_session("Mailchimp", "MAILCHIMP_API_KEY")
    )
    destination = MailchimpDestination(client)
    sync(desired, destination, SyncLedger(duckdb.connect(":memory:"), "mailchimp"))
    tag = destination.tag_name(GROUP)
    members = {m["id"]: m for m in client.iter_members(list_id, fields=["id", "status", "tags"])}
    tagged = {h for h, m in members.items() if any(t["name"] == tag for t in m["tags"])}
    assert tagged == {subscriber_hash(ben)}
    # Neither sync changed anyone's consent on its platform.
    assert members[subscriber_hash(ana)]["status"] == "unsubscribed"
    assert members[subscriber_hash(ben)]["status"] == "subscribed"
