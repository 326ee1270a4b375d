"""Tags sent to Mailchimp in batches of up to 500 through the tag's static segment, and members
a batch ignores or refuses reported as such (skipped with a reason, or an error without the
email), not counted as ok."""

from __future__ import annotations

import json
import math

import pytest

from pipeline.lib.clients.mailchimp import MailchimpClient, subscriber_hash
from pipeline.lib.sync import DesiredContact, sync
from pipeline.lib.sync.mailchimp_destination import MailchimpDestination
from pipeline.lib.sync.records import Member, Outcome
from tests.lib.clients.sandbox_fixtures import Reply, quiet_session, scripted
from tests.lib.sync.mailchimp_sync_fixtures import (
    Harness,
    acknowledged,
    is_segment_batch,
    new_ledger,
)
from tests.lib.sync.sync_fixtures import ledger_rows, store_profiles

pytestmark = pytest.mark.integration


def test_a_segment_of_n_members_takes_ceil_n_over_500_tag_calls(sandbox, small_store_view):
    """Every subscribed member of the store into one segment: one write call per 500 members
    (plus the tag's segment, created once), where one call per member was made before."""
    run = Harness(sandbox.url)
    statuses = {h: m["status"] for h, m in run.members().items()}
    subscribed = {
        p.email.strip().lower(): p
        for p in store_profiles(small_store_view)
        if p.email and p.marketable and statuses.get(subscriber_hash(p.email)) == "subscribed"
    }
    props = {"foresight_model_version": "v1"}
    contacts = [
        DesiredContact(f"cust-{p.profile_id}", p.email, None, True, props, frozenset({"vip"}))
        for p in subscribed.values()
    ]
    ledger = new_ledger()
    acknowledged(ledger, contacts)
    run.responses.clear()
    result = sync(contacts, run.destination, ledger)
    n = len(contacts)
    batches = [r for r in run.writes_sent if is_segment_batch(r)]
    assert n > 500 and len(batches) == math.ceil(n / 500) == 2
    assert result.write_calls == 1 + len(batches)  # was n: one tags call per member
    sizes = [len(json.loads(r.body)["members_to_add"]) for r in batches]
    assert max(sizes) <= 500 and sum(sizes) == n
    assert (result.ok, result.failed, result.skipped) == (n, 0, 0)
    assert run.tagged("vip") == {subscriber_hash(c.email) for c in contacts}


def test_an_email_the_audience_does_not_hold_is_reported_not_counted_ok(sandbox, audience_profiles):
    """Mailchimp ignores both an email it does not hold and one already tagged: the first is
    skipped with its reason, the second confirmed by a read."""
    run = Harness(sandbox.url)
    statuses = {h: m["status"] for h, m in run.members().items()}
    first, gone, hand_tagged = [
        p
        for p in audience_profiles
        if p.marketable and statuses[subscriber_hash(p.email)] == "subscribed"
    ][:3]
    props = {"foresight_model_version": "v1"}

    def contact(profile, *segments: str) -> DesiredContact:
        cid = f"cust-{profile.profile_id}"
        return DesiredContact(cid, profile.email, None, True, props, frozenset(segments))

    ledger = new_ledger()
    acknowledged(ledger, [contact(p) for p in (first, gone, hand_tagged)])
    # The first run reads the live statuses, which the destination then keeps.
    sync([contact(first, "winback"), contact(gone), contact(hand_tagged)], run.destination, ledger)
    # Since then, one member was deleted in Mailchimp and another tagged by hand.
    list_id = run.destination.list_id
    run.client.delete_member_permanently(list_id, subscriber_hash(gone.email))
    tag = run.destination.tag_name("winback")
    run.client.set_member_tags(list_id, subscriber_hash(hand_tagged.email), active=[tag])
    result = sync(
        [contact(p, "winback") for p in (first, gone, hand_tagged)], run.destination, ledger
    )
    assert (result.ok, result.skipped, result.failed, result.write_calls) == (1, 1, 0, 1)
    rows = {r[1]: r[4:] for r in ledger_rows(ledger, f"run_id = '{result.run_id}'")}
    reason = "Mailchimp ignored the member: the audience no longer holds this address"
    assert rows[f"cust-{gone.profile_id}"] == ("skipped", reason)
    assert rows[f"cust-{hand_tagged.profile_id}"] == ("ok", None)
    # Not ours, so never removed later; a later run tries the add again.
    assert f"cust-{gone.profile_id}" not in ledger.load_state().memberships["winback"]


def test_a_member_refused_in_a_batch_is_an_error_without_its_email():
    session = quiet_session("Mailchimp", "MAILCHIMP_API_KEY")
    client = MailchimpClient("https://us5.api.mailchimp.com/3.0", "key-us5", session)
    destination = MailchimpDestination(client)
    ann, bob = "Ann@Example.com", "bob@example.com"

    def member(email: str) -> dict:
        return {
            "id": subscriber_hash(email),
            "email_address": email.lower(),
            "status": "subscribed",
        }

    refused = {"email_addresses": [bob], "error": f"{bob} could not be added to the segment"}
    adapter = scripted(
        session,
        [
            Reply(200, {"lists": [{"id": "L1", "name": "Shop"}], "total_items": 1}),
            Reply(200, {"id": "L1", "name": "Shop"}),
            Reply(200, {"members": [member(ann), member(bob)], "total_items": 2}),
            Reply(200, {"segments": [{"id": 7, "name": "Foresight: VIP"}], "total_items": 1}),
            Reply(200, {"members_added": [member(ann)], "errors": [refused], "error_count": 1}),
        ],
    )
    members = [Member("c-ann", ann, None), Member("c-bob", bob, None)]
    outcomes = {o.customer_id: o for o in destination.add_to_group("vip", members)}
    assert outcomes["c-ann"] == Outcome("c-ann", "ok", subscriber_hash(ann))
    assert outcomes["c-bob"].status == "error" and "could not be added" in outcomes["c-bob"].error
    assert "bob" not in outcomes["c-bob"].error
    sent = adapter.requests[-1]
    assert sent.path_url == "/3.0/lists/L1/segments/7"  # tag names match case-insensitively
    assert json.loads(sent.body) == {"members_to_add": [ann, bob], "members_to_remove": []}
    assert client.write_calls == 1
