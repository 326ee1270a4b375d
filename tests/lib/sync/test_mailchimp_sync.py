"""The sync against the Mailchimp emulator on 127.0.0.1: consent, statuses never sent or changed,
merge fields created once, tags only where we put them, members Mailchimp refuses recorded
without their email, and a re-run that writes nothing."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from pipeline.lib.clients.mailchimp import subscriber_hash
from pipeline.lib.sync import DesiredContact, sync
from pipeline.lib.sync.mailchimp_destination import MERGE_FIELDS, MailchimpDestination, merge_values
from tests.lib.sync.mailchimp_sync_fixtures import (
    Harness,
    desired_state,
    expected_tagged,
    is_segment_batch,
    new_ledger,
    write_kind,
)
from tests.lib.sync.sync_fixtures import NEW_EMAIL, SEGMENTS, ledger_rows

pytestmark = pytest.mark.integration


def test_first_sync_tags_only_subscribed_people_and_never_touches_status(
    sandbox, audience_profiles
):
    run = Harness(sandbox.url)
    before = run.members()
    statuses = {h: m["status"] for h, m in before.items()}
    ledger = new_ledger()
    result = sync(desired_state(audience_profiles), run.destination, ledger)
    assert result.failed == 0, ledger_rows(ledger, "outcome = 'error'")
    after = run.members()
    for group in SEGMENTS:
        expected = expected_tagged(audience_profiles, group, statuses)
        assert expected and run.tagged(group) == expected, group
    # No existing member's status moved; the new customer exists, transactional and untagged
    # (only subscribed members are tagged, whatever the warehouse said).
    assert {h: after[h]["status"] for h in before} == statuses
    new = after[subscriber_hash(NEW_EMAIL)]
    assert new["status"] == "transactional" and new["tags"] == set()
    # Merge values reached members; lists (segments) are not merge fields.
    first = after[subscriber_hash(audience_profiles[0].email)]["merge_fields"]
    assert first["FS_CHTIER"] == "low" and first["FS_MODEL"] == "v1"
    assert first["FS_HOLDOUT"] == "yes"
    # Every write was a batch of member PUTs with status_if_new (never `status`), a merge-field
    # create, a tag's static segment created empty, or one batch per group (no per-member calls).
    for request in run.writes_sent:
        assert request.method == "POST"
        if write_kind(request) == "member batch":
            for operation in json.loads(request.body)["operations"]:
                body = json.loads(operation["body"])
                assert operation["method"] == "PUT" and "/members/" in operation["path"]
                assert body["status_if_new"] == "transactional" and "status" not in body
        else:
            assert request.path_url.endswith(("/merge-fields", "/segments")) or is_segment_batch(
                request
            )
    kinds = Counter(write_kind(r) for r in run.writes_sent)
    assert kinds == {
        "merge field": len(MERGE_FIELDS),
        "member batch": 1,  # fewer than 500 members
        "segment": len(SEGMENTS),
        "batch": len(SEGMENTS),  # fewer than 500 members each
    }
    assert result.write_calls == sum(kinds.values())


def test_a_second_run_with_nothing_changed_writes_nothing(sandbox, audience_profiles):
    run = Harness(sandbox.url)
    ledger = new_ledger()
    sync(desired_state(audience_profiles), run.destination, ledger)
    fields = run.client.merge_fields(run.destination.list_id)
    run.responses.clear()
    again = sync(desired_state(audience_profiles), run.destination, ledger)
    assert again.write_calls == 0 and run.writes_sent == [] and again.failed == 0
    # A new destination object (the next day's run) does not create the merge fields again.
    fresh = MailchimpDestination(run.client)
    sync(desired_state(audience_profiles, "v2"), fresh, ledger)
    assert run.client.merge_fields(run.destination.list_id) == fields


def test_leaving_a_segment_or_consent_removes_only_our_tags(sandbox, audience_profiles):
    run = Harness(sandbox.url)
    ledger = new_ledger()
    desired = desired_state(audience_profiles)
    sync(desired, run.destination, ledger)
    vip = sorted(run.tagged("vip"))
    # Someone tagged "Foresight: vip" by hand in Mailchimp keeps the tag.
    outsider = next(
        subscriber_hash(p.email)
        for p in audience_profiles
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
    by_hash = [r for r in run.writes_sent if write_kind(r) == "member tags"]
    assert by_hash and all(dropped in r.path_url for r in by_hash)


def test_a_refused_member_is_recorded_without_its_email_and_retried(sandbox, audience_profiles):
    run = Harness(sandbox.url)
    ledger = new_ledger()
    bad = DesiredContact("cust-bad", "bad@@example", None, True, {}, frozenset())
    first = sync([*desired_state(audience_profiles), bad], run.destination, ledger)
    second = sync([*desired_state(audience_profiles), bad], run.destination, ledger)
    assert (first.failed, second.failed, second.write_calls) == (1, 1, 1)
    errors = ledger_rows(ledger, "outcome = 'error'")
    assert [r[1] for r in errors] == ["cust-bad", "cust-bad"]
    assert all("bad@@example" not in (r[5] or "") for r in errors)


def test_a_dry_run_calls_nothing(sandbox, audience_profiles):
    run = Harness(sandbox.url)
    ledger = new_ledger()
    result = sync(desired_state(audience_profiles), run.destination, ledger, dry_run=True)
    assert run.sent == [] and ledger.load_state().is_empty
    assert result.plan["property_writes"] == len(audience_profiles) + 1


def test_every_scalar_property_needs_a_merge_field():
    assert merge_values({"foresight_cltv_predicted": 12.5, "foresight_churn_reasons": ["x"]}) == {
        "FS_CLTV": 12.5
    }
    with pytest.raises(ValueError, match="'foresight_new_score' has no Mailchimp merge field"):
        merge_values({"foresight_new_score": 1.0})
