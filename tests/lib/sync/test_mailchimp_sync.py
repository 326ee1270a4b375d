"""The sync against the Mailchimp emulator on 127.0.0.1: consent, statuses never sent or changed,
merge fields created once, tags only where we put them and in batches of up to 500 through the
tag's static segment, members Mailchimp ignores or refuses reported as such, and a re-run that
writes nothing."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import replace

import duckdb
import pytest

from pipeline.lib.clients.mailchimp import MailchimpClient, subscriber_hash
from pipeline.lib.sync import DesiredContact, SyncLedger, sync
from pipeline.lib.sync.mailchimp_destination import (
    MERGE_FIELDS,
    MailchimpDestination,
    merge_values,
)
from pipeline.lib.sync.records import Member, Outcome, canonical_properties, properties_hash
from tests.lib.clients.sandbox_fixtures import Reply, quiet_session, scripted, serve
from tests.lib.sync.sync_fixtures import SEGMENTS, ledger_rows, store_profiles

pytestmark = pytest.mark.integration
NEW_EMAIL = "brand.new.customer@example.com"


@pytest.fixture
def sandbox(small_store_view, tmp_path):
    with serve(small_store_view, tmp_path) as running:
        yield running


@pytest.fixture
def profiles(small_store_view, sandbox):
    """The first 150 store profiles that are audience members (a usable email)."""
    audience = set(Harness(sandbox.url).members())
    members = [p for p in store_profiles(small_store_view) if p.email]
    return [p for p in members if subscriber_hash(p.email) in audience][:150]


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


def _is_batch(request) -> bool:
    """A batch add/remove: POST /lists/{list_id}/segments/{segment_id}."""
    return request.path_url.rsplit("/", 2)[-2] == "segments"


def _write_kind(request) -> str:
    if request.path_url.endswith("/3.0/batches"):
        return "member batch"
    if _is_batch(request):
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


def test_first_sync_tags_only_subscribed_people_and_never_touches_status(sandbox, profiles):
    run = Harness(sandbox.url)
    before = run.members()
    statuses = {h: m["status"] for h, m in before.items()}
    ledger = new_ledger()
    result = sync(desired_state(profiles), run.destination, ledger)
    assert result.failed == 0, ledger_rows(ledger, "outcome = 'error'")
    after = run.members()
    for group in SEGMENTS:
        expected = expected_tagged(profiles, group, statuses)
        assert expected and run.tagged(group) == expected, group
    # No existing member's status moved; the new customer exists, transactional and untagged
    # (only subscribed members are tagged, whatever the warehouse said).
    assert {h: after[h]["status"] for h in before} == statuses
    new = after[subscriber_hash(NEW_EMAIL)]
    assert new["status"] == "transactional" and new["tags"] == set()
    # Merge values reached members; lists (segments) are not merge fields.
    first = after[subscriber_hash(profiles[0].email)]["merge_fields"]
    assert first["FS_CHTIER"] == "low" and first["FS_MODEL"] == "v1"
    assert first["FS_HOLDOUT"] == "yes"
    # Every write was a batch of member PUTs with status_if_new (never `status`), a merge-field
    # create, a tag's static segment created empty, or one batch per group (no per-member calls).
    for request in run.writes_sent:
        assert request.method == "POST"
        if _write_kind(request) == "member batch":
            for operation in json.loads(request.body)["operations"]:
                body = json.loads(operation["body"])
                assert operation["method"] == "PUT" and "/members/" in operation["path"]
                assert body["status_if_new"] == "transactional" and "status" not in body
        else:
            assert request.path_url.endswith(("/merge-fields", "/segments")) or _is_batch(request)
    kinds = Counter(_write_kind(r) for r in run.writes_sent)
    assert kinds == {
        "merge field": len(MERGE_FIELDS),
        "member batch": 1,  # fewer than 500 members
        "segment": len(SEGMENTS),
        "batch": len(SEGMENTS),  # fewer than 500 members each
    }
    assert result.write_calls == sum(kinds.values())


def test_a_second_run_with_nothing_changed_writes_nothing(sandbox, profiles):
    run = Harness(sandbox.url)
    ledger = new_ledger()
    sync(desired_state(profiles), run.destination, ledger)
    fields = run.client.merge_fields(run.destination.list_id)
    run.responses.clear()
    again = sync(desired_state(profiles), run.destination, ledger)
    assert again.write_calls == 0 and run.writes_sent == [] and again.failed == 0
    # A new destination object (the next day's run) does not create the merge fields again.
    fresh = MailchimpDestination(run.client)
    sync(desired_state(profiles, "v2"), fresh, ledger)
    assert run.client.merge_fields(run.destination.list_id) == fields


def test_leaving_a_segment_or_consent_removes_only_our_tags(sandbox, profiles):
    run = Harness(sandbox.url)
    ledger = new_ledger()
    desired = desired_state(profiles)
    sync(desired, run.destination, ledger)
    vip = sorted(run.tagged("vip"))
    # Someone tagged "Foresight: vip" by hand in Mailchimp keeps the tag.
    outsider = next(
        subscriber_hash(p.email)
        for p in profiles
        if subscriber_hash(p.email) not in vip and p.marketable
    )
    run.client.set_member_tags(run.destination.list_id, outsider, active=["Foresight: vip"])
    leaver, unsubscriber, dropped = vip[0], vip[1], vip[2]
    changed = []
    for contact in desired:
        member = subscriber_hash(contact.email)
        if member == leaver:
            contact = replace(contact, segments=contact.segments - {"vip"})
        elif member == unsubscriber:
            contact = replace(contact, can_receive_email_marketing=False)
        elif member == dropped:
            continue  # gone from the warehouse: the ledger knows only its subscriber hash
        changed.append(contact)
    run.responses.clear()
    result = sync(changed, run.destination, ledger)
    assert run.tagged("vip") == (set(vip) - {leaver, unsubscriber, dropped}) | {outsider}
    assert result.plan["groups"]["vip"]["consent_removals"] == 1
    # The unsubscriber left first, in a batch of their own; then the leaver; the one known by
    # hash alone, by tags calls.
    vip_segment = run.client.find_tag_segment(run.destination.list_id, "Foresight: vip")
    batches = [r for r in run.writes_sent if r.path_url.endswith(f"/segments/{vip_segment}")]
    assert [len(json.loads(b.body)["members_to_remove"]) for b in batches] == [1, 1]
    by_hash = [r for r in run.writes_sent if _write_kind(r) == "member tags"]
    assert by_hash and all(dropped in r.path_url for r in by_hash)


def test_a_refused_member_is_recorded_without_its_email_and_retried(sandbox, profiles):
    run = Harness(sandbox.url)
    ledger = new_ledger()
    bad = DesiredContact("cust-bad", "bad@@example", None, True, {}, frozenset())
    first = sync([*desired_state(profiles), bad], run.destination, ledger)
    second = sync([*desired_state(profiles), bad], run.destination, ledger)
    assert (first.failed, second.failed, second.write_calls) == (1, 1, 1)
    errors = ledger_rows(ledger, "outcome = 'error'")
    assert [r[1] for r in errors] == ["cust-bad", "cust-bad"]
    assert all("bad@@example" not in (r[5] or "") for r in errors)


def test_a_dry_run_calls_nothing(sandbox, profiles):
    run = Harness(sandbox.url)
    ledger = new_ledger()
    result = sync(desired_state(profiles), run.destination, ledger, dry_run=True)
    assert run.sent == [] and ledger.load_state().is_empty
    assert result.plan["property_writes"] == len(profiles) + 1


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
    batches = [r for r in run.writes_sent if _is_batch(r)]
    assert n > 500 and len(batches) == math.ceil(n / 500) == 2
    assert result.write_calls == 1 + len(batches)  # was n: one tags call per member
    sizes = [len(json.loads(r.body)["members_to_add"]) for r in batches]
    assert max(sizes) <= 500 and sum(sizes) == n
    assert (result.ok, result.failed, result.skipped) == (n, 0, 0)
    assert run.tagged("vip") == {subscriber_hash(c.email) for c in contacts}


def test_an_email_the_audience_does_not_hold_is_reported_not_counted_ok(sandbox, profiles):
    """Mailchimp ignores both an email it does not hold and one already tagged: the first is
    skipped with its reason, the second confirmed by a read."""
    run = Harness(sandbox.url)
    statuses = {h: m["status"] for h, m in run.members().items()}
    first, gone, hand_tagged = [
        p for p in profiles if p.marketable and statuses[subscriber_hash(p.email)] == "subscribed"
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


def test_every_scalar_property_needs_a_merge_field():
    assert merge_values({"foresight_cltv_predicted": 12.5, "foresight_churn_reasons": ["x"]}) == {
        "FS_CLTV": 12.5
    }
    with pytest.raises(ValueError, match="'foresight_new_score' has no Mailchimp merge field"):
        merge_values({"foresight_new_score": 1.0})
