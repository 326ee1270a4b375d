"""The sync against the Mailchimp emulator on 127.0.0.1: consent, statuses never sent or changed,
merge fields created once, tags only where we put them, and a re-run that writes nothing."""

from __future__ import annotations

import json
from dataclasses import replace

import duckdb
import pytest

from pipeline.lib.clients.mailchimp import MailchimpClient, subscriber_hash
from pipeline.lib.sync import DesiredContact, SyncLedger, sync
from pipeline.lib.sync.mailchimp_destination import MailchimpDestination, merge_values
from tests.lib.clients.sandbox_fixtures import quiet_session, serve
from tests.lib.sync.sync_fixtures import SEGMENTS, ledger_rows, store_profiles

pytestmark = pytest.mark.integration
NEW_EMAIL = "brand.new.customer@example.com"


@pytest.fixture
def sandbox(small_store_view, tmp_path):
    with serve(small_store_view, tmp_path) as running:
        yield running


@pytest.fixture
def profiles(small_store_view, sandbox):
    """The first 150 store profiles that are audience members (a usable email): one member
    PUT per contact, so a few hundred keep the tests fast."""
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
    # Every write was a member PUT with status_if_new (never `status`), a tag POST or a
    # merge-field create.
    for request in run.writes_sent:
        body = json.loads(request.body)
        if request.method == "PUT":
            assert body["status_if_new"] == "transactional" and "status" not in body
        else:
            assert request.method == "POST"
            assert request.path_url.endswith(("/tags", "/merge-fields"))


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
    leaver, unsubscriber = vip[0], vip[1]
    changed = []
    for contact in desired:
        member = subscriber_hash(contact.email)
        if member == leaver:
            contact = replace(contact, segments=contact.segments - {"vip"})
        elif member == unsubscriber:
            contact = replace(contact, can_receive_email_marketing=False)
        changed.append(contact)
    result = sync(changed, run.destination, ledger)
    assert run.tagged("vip") == (set(vip) - {leaver, unsubscriber}) | {outsider}
    assert result.plan["groups"]["vip"]["consent_removals"] == 1


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


def test_every_scalar_property_needs_a_merge_field():
    assert merge_values({"foresight_cltv_predicted": 12.5, "foresight_churn_reasons": ["x"]}) == {
        "FS_CLTV": 12.5
    }
    with pytest.raises(ValueError, match="'foresight_new_score' has no Mailchimp merge field"):
        merge_values({"foresight_new_score": 1.0})
