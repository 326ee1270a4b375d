"""MailchimpClient against the Mailchimp emulator on loopback, over the session's small store:
the audience, merge fields, member upserts (through faults too), tags and a rejected key."""

from __future__ import annotations

import pytest

from pipeline.lib.clients.http import ApiError, RejectedCredentialsError
from pipeline.lib.clients.mailchimp import MemberUpsert
from tests.lib.clients.mailchimp_client_fixtures import FIELDS, client
from tests.lib.clients.sandbox_fixtures import FAULTS, serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mailchimp(sandbox):
    return client(f"{sandbox.url}/3.0")


@pytest.fixture(scope="module")
def audience(mailchimp):
    return mailchimp.find_audience()


@pytest.fixture(scope="module")
def members(mailchimp, audience):
    """Every member before any test wrote, read once for the module."""
    return list(mailchimp.iter_members(audience["id"], fields=["email_address", "status"]))


def test_finds_the_one_audience(mailchimp, audience, members):
    assert mailchimp.ping()
    assert audience["name"] == "Foresight Coffee & Tea"
    assert mailchimp.find_audience("Foresight Coffee & Tea")["id"] == audience["id"]
    with pytest.raises(ApiError, match="exactly one audience"):
        mailchimp.find_audience("Another shop")
    statuses = {m["status"] for m in members}
    assert {"subscribed", "unsubscribed", "transactional"} <= statuses
    assert len({m["email_address"] for m in members}) == len(members) > 500
    assert audience["stats"]["member_count"] == sum(m["status"] == "subscribed" for m in members)


def test_ensure_merge_fields_is_idempotent(mailchimp, audience):
    assert mailchimp.ensure_merge_fields(audience["id"], FIELDS) == ["CHURN", "CHURNTIER"]
    assert mailchimp.ensure_merge_fields(audience["id"], FIELDS) == []
    tags = [f["tag"] for f in mailchimp.merge_fields(audience["id"])]
    assert tags.count("CHURN") == 1 and "FNAME" in tags


def test_upserts_keep_every_status_and_report_each_member(mailchimp, audience, members):
    mailchimp.ensure_merge_fields(audience["id"], FIELDS)
    existing = members[:40]
    batch = [MemberUpsert(m["email_address"], {"CHURN": 0.1, "CHURNTIER": "low"}) for m in existing]
    batch.append(MemberUpsert("Brand.New@Example.com", {"CHURN": 0.7}))
    batch.append(MemberUpsert(existing[0]["email_address"], {"CHURN": "not a number"}))
    outcomes = mailchimp.upsert_members(audience["id"], batch)
    assert [o.ok for o in outcomes] == [True] * 41 + [False]
    assert [o.status for o in outcomes[:40]] == [m["status"] for m in existing]
    assert outcomes[40].status == "transactional"
    assert "CHURN" in outcomes[-1].error and "@" not in outcomes[-1].error
    after = {
        m["email_address"].lower(): m
        for m in mailchimp.iter_members(audience["id"], fields=["email_address", "merge_fields"])
    }
    assert after[existing[5]["email_address"]]["merge_fields"]["CHURN"] == 0.1
    assert after["brand.new@example.com"]["merge_fields"]["CHURN"] == 0.7


def test_tags_show_on_members(mailchimp, audience, members):
    email = members[3]["email_address"]
    mailchimp.set_tags(audience["id"], email, active=["VIP", "Tea lovers"])
    mailchimp.set_tags(audience["id"], email, inactive=["VIP"])
    tagged = [
        m
        for m in mailchimp.iter_members(audience["id"], fields=["email_address", "tags"])
        if m["tags"]
    ]
    assert [(m["email_address"], [t["name"] for t in m["tags"]]) for m in tagged] == [
        (email, ["Tea lovers"])
    ]


def test_upserts_converge_through_faults(small_store_view, tmp_path):
    with serve(small_store_view, tmp_path, faults=FAULTS, seed=3) as running:
        api = client(f"{running.url}/3.0")
        list_id = api.find_audience()["id"]
        api.ensure_merge_fields(list_id, FIELDS)
        emails = [f"fault{n}@example.com" for n in range(30)]
        outcomes = api.upsert_members(list_id, [MemberUpsert(e, {"CHURN": 0.5}) for e in emails])
        assert all(o.ok for o in outcomes)
        assert api.session.stats.retries > 0
        tags = [f["tag"] for f in api.merge_fields(list_id)]
        assert tags.count("CHURN") == 1


def test_rejected_key_names_the_setting(sandbox):
    with pytest.raises(RejectedCredentialsError, match="MAILCHIMP_API_KEY") as raised:
        client(sandbox.url, key="wrong-secret-us9").ping()
    assert "wrong-secret" not in str(raised.value)


def test_upserts_take_one_batch_call_per_500_members(sandbox, audience):
    api = client(f"{sandbox.url}/3.0")
    emails = [f"batch{n}@example.com" for n in range(501)]
    outcomes = api.upsert_members(audience["id"], [MemberUpsert(e) for e in emails])
    assert api.write_calls == 2
    assert all(o.ok and o.status == "transactional" for o in outcomes)
    again = api.upsert_members(audience["id"], [MemberUpsert(emails[0])])
    assert again[0].ok and api.write_calls == 3
