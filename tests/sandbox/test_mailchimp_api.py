"""The Mailchimp emulator's behaviour: audience seeding, consent safety, validation, limits,
permanent deletion and restarts. Static segments (the tags) and batch operations are in
`test_mailchimp_segments_and_batches`."""

from __future__ import annotations

import base64

import pytest

from sandbox.mailchimp.api import ConnectionLimiter
from tests.sandbox.mailchimp_fixtures import (
    LIST_ID,
    N_MEMBERS,
    SCORE,
    ctx_on_file,
    make_client,
    md5,
    member_url,
    person_email,
    put_body,
    statuses,
)


def test_audience_is_the_shop_seeded_from_store_consent(mailchimp):
    lists = mailchimp.get("/3.0/lists").json()
    assert [a["name"] for a in lists["lists"]] == ["Foresight Coffee & Tea"]
    assert lists["lists"][0]["id"] == LIST_ID
    seen = statuses(mailchimp)
    assert len(seen) == N_MEMBERS  # no member for the missing or the invalid email
    expected = {0: "subscribed", 1: "unsubscribed", 2: "transactional", 3: "subscribed"}
    expected |= {4: "cleaned", 14: "cleaned"}
    for n, status in expected.items():
        assert seen[person_email(n)] == status, n
    audience = mailchimp.get(f"/3.0/lists/{LIST_ID}").json()
    assert audience["stats"]["member_count"] == list(seen.values()).count("subscribed")
    assert audience["stats"]["cleaned_count"] == 3


def test_status_if_new_upsert_never_changes_an_existing_status(mailchimp):
    mailchimp.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    before = statuses(mailchimp)
    for n in (0, 1, 2, 4):
        email = person_email(n)
        body = put_body(email, status_if_new="subscribed", merge_fields={"CHURN": 0.25})
        answer = mailchimp.put(member_url(email), json=body)
        assert answer.status_code == 200
        assert answer.json()["merge_fields"]["CHURN"] == 0.25
    assert statuses(mailchimp) == before
    created = mailchimp.put(member_url("new@example.com"), json=put_body("New@Example.com"))
    assert created.json()["status"] == "transactional"
    assert created.json()["id"] == md5("new@example.com")
    again = mailchimp.put(member_url("new@example.com"), json=put_body("new@example.com"))
    assert again.json()["status"] == "transactional"
    assert mailchimp.get(f"/3.0/lists/{LIST_ID}/members").json()["total_items"] == N_MEMBERS + 1


def test_status_is_applied_but_never_resubscribes_the_unsubscribed(mailchimp):
    email = person_email(1)
    refused = mailchimp.put(member_url(email), json=put_body(email, status="subscribed"))
    assert refused.status_code == 400
    assert refused.json()["title"] == "Member In Compliance State"
    assert statuses(mailchimp)[email] == "unsubscribed"
    subscribed = person_email(0)
    mailchimp.put(member_url(subscribed), json=put_body(subscribed, status="unsubscribed"))
    assert statuses(mailchimp)[subscribed] == "unsubscribed"


def test_subscriber_hash_must_match_the_email(mailchimp):
    email = person_email(0)
    wrong = mailchimp.put(member_url(person_email(2)), json=put_body(email))
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"
    assert set(wrong.json()) >= {"type", "title", "status", "detail", "instance"}
    by_email = mailchimp.get(f"/3.0/lists/{LIST_ID}/members/{email.upper()}")
    assert by_email.json()["id"] == md5(email)
    assert mailchimp.get(member_url("nobody@example.com")).status_code == 404


def test_merge_values_are_checked_against_known_fields_and_types(mailchimp):
    email = person_email(0)
    unknown = mailchimp.put(member_url(email), json=put_body(email, merge_fields={"NOPE": 1}))
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [
        {"field": "NOPE", "message": "Merge field NOPE does not exist."}
    ]
    assert mailchimp.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE).status_code == 200
    tier = {"tag": "TIER", "name": "Tier", "type": "dropdown"}
    tier["options"] = {"choices": ["high", "medium", "low"]}
    mailchimp.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=tier)
    bad = mailchimp.put(
        member_url(email), json=put_body(email, merge_fields={"CHURN": "x", "TIER": "huge"})
    )
    assert {e["field"] for e in bad.json()["errors"]} == {"CHURN", "TIER"}
    good = {"CHURN": "0.5", "TIER": "high", "FNAME": "Ada"}
    merge = mailchimp.put(member_url(email), json=put_body(email, merge_fields=good)).json()
    assert {k: merge["merge_fields"][k] for k in good} == {**good, "CHURN": 0.5}
    duplicate = mailchimp.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    assert duplicate.status_code == 400
    tags = mailchimp.get(f"/3.0/lists/{LIST_ID}/merge-fields").json()["merge_fields"]
    expected = "FNAME LNAME ADDRESS PHONE BIRTHDAY CHURN TIER".split()
    assert [f["tag"] for f in tags] == expected


def test_tags_are_added_and_removed(mailchimp):
    email = person_email(6)
    tag = {"tags": [{"name": "VIP", "status": "active"}, {"name": "Lapsed", "status": "active"}]}
    assert mailchimp.post(member_url(email, "/tags"), json=tag).status_code == 204
    off = {"tags": [{"name": "vip", "status": "inactive"}]}
    assert mailchimp.post(member_url(email, "/tags"), json=off).status_code == 204
    member = mailchimp.get(member_url(email)).json()
    assert [t["name"] for t in member["tags"]] == ["Lapsed"]
    assert member["status"] == "subscribed"
    missing = mailchimp.post(member_url("nobody@example.com", "/tags"), json=tag)
    assert missing.status_code == 404


def test_batch_endpoint_caps_members_and_needs_a_status(mailchimp):
    many = [{"email_address": f"b{n}@example.com", "status": "transactional"} for n in range(501)]
    too_many = mailchimp.post(f"/3.0/lists/{LIST_ID}", json={"members": many})
    assert too_many.status_code == 400
    members = [
        {"email_address": "b1@example.com", "status": "transactional"},
        {"email_address": "b2@example.com"},  # no status: refused, per member
        {"email_address": person_email(0), "status": "unsubscribed"},
    ]
    result = mailchimp.post(f"/3.0/lists/{LIST_ID}", json={"members": members}).json()
    assert result["total_created"] == 1 and result["error_count"] == 2
    codes = sorted(e["error_code"] for e in result["errors"])
    assert codes == ["ERROR_CONTACT_EXISTS", "ERROR_GENERIC"]
    assert statuses(mailchimp)[person_email(0)] == "subscribed"


def test_members_page_by_count_and_offset_with_fields(mailchimp):
    params = {"count": 10, "fields": "members.email_address,total_items"}
    pages = [
        mailchimp.get(f"/3.0/lists/{LIST_ID}/members", params={**params, "offset": offset}).json()
        for offset in (0, 10, 20)
    ]
    emails = [m["email_address"] for page in pages for m in page["members"]]
    assert len(emails) == len(set(emails)) == N_MEMBERS
    assert pages[0]["members"][0] == {"email_address": emails[0]}
    assert set(pages[0]) == {"members", "total_items"}
    bad = mailchimp.get(f"/3.0/lists/{LIST_ID}/members", params={"count": 1001})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong",
        "Basic " + base64.b64encode(b"any:wrong").decode(),
        "Klaviyo-API-Key sandbox-key",
    ],
)
def test_rejects_bad_credentials(mailchimp, header):
    headers = {"Authorization": header} if header else {"Authorization": ""}
    answer = mailchimp.get("/3.0/ping", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["title"] in ("API Key Missing", "API Key Invalid")


def test_basic_auth_with_any_user_name_is_accepted(mailchimp):
    header = "Basic " + base64.b64encode(b"anystring:sandbox-key").decode()
    assert mailchimp.get("/3.0/ping", headers={"Authorization": header}).status_code == 200


def test_too_many_simultaneous_connections_get_429():
    limiter = ConnectionLimiter(limit=2)
    mailchimp = make_client(limiter=limiter)
    limiter.acquire()
    limiter.acquire()  # two requests in flight elsewhere
    refused = mailchimp.get("/3.0/ping")
    assert refused.status_code == 429
    assert refused.json()["title"] == "Too Many Requests"
    limiter.release()
    assert mailchimp.get("/3.0/ping").status_code == 200
    assert limiter.in_flight == 1  # the answered request gave its slot back


def test_writes_persist_across_a_restart(tmp_path):
    path = tmp_path / "state.duckdb"
    first = ctx_on_file(path)
    mailchimp = make_client(first)
    mailchimp.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    email = person_email(9)
    mailchimp.put(member_url(email), json=put_body(email, merge_fields={"CHURN": 0.9}))
    first.state.close()
    restarted = make_client(ctx_on_file(path))
    assert restarted.get(member_url(email)).json()["merge_fields"]["CHURN"] == 0.9


def test_a_permanently_deleted_member_is_gone_for_good(mailchimp):
    mailchimp.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    store, added = person_email(0), "added@example.com"
    mailchimp.put(member_url(store), json=put_body(store, merge_fields={"CHURN": 0.4}))
    mailchimp.post(member_url(store, "/tags"), json={"tags": [{"name": "VIP", "status": "active"}]})
    mailchimp.put(member_url(added), json=put_body(added))
    before = set(statuses(mailchimp))
    for email in (store, added):
        deleted = mailchimp.post(member_url(email, "/actions/delete-permanent"))
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert mailchimp.get(member_url(email)).status_code == 404
    assert set(statuses(mailchimp)) == before - {store, added}
    again = mailchimp.post(member_url(store, "/actions/delete-permanent"))
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["title"] == "Resource Not Found"
    refused = mailchimp.put(member_url(store), json=put_body(store))
    assert refused.status_code == 400
    assert refused.json()["title"] == "Forgotten Email Not Subscribed"
    tag = {"tags": [{"name": "VIP", "status": "inactive"}]}
    assert mailchimp.post(member_url(store, "/tags"), json=tag).status_code == 404


def test_deleting_a_member_never_there_is_404(mailchimp):
    answer = mailchimp.post(member_url("never.there@example.com", "/actions/delete-permanent"))
    assert answer.status_code == 404
    assert len(statuses(mailchimp)) == N_MEMBERS


def test_a_deletion_persists_across_a_restart(tmp_path):
    path = tmp_path / "state.duckdb"
    first = ctx_on_file(path)
    email = person_email(9)
    assert make_client(first).post(member_url(email, "/actions/delete-permanent")).is_success
    first.state.close()
    restarted = make_client(ctx_on_file(path))
    assert restarted.get(member_url(email)).status_code == 404
    assert len(statuses(restarted)) == N_MEMBERS - 1
    assert restarted.put(member_url(email), json=put_body(email)).status_code == 400


def test_unsupported_method_gets_405(mailchimp):
    answer = mailchimp.delete(f"/3.0/lists/{LIST_ID}")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"


def test_a_member_reads_the_same_alone_and_in_the_list(mailchimp):
    """The point lookup (used by every upsert) and the listing query agree on every member."""
    mailchimp.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    for n in (0, 1, 4):
        email = person_email(n)
        mailchimp.put(member_url(email), json=put_body(email, merge_fields={"CHURN": n}))
    mailchimp.put(
        member_url(person_email(2)), json=put_body(person_email(2), status="unsubscribed")
    )
    mailchimp.put(member_url("new@example.com"), json=put_body("new@example.com"))
    tag = {"tags": [{"name": "VIP", "status": "active"}]}
    mailchimp.post(member_url(person_email(0), "/tags"), json=tag)
    mailchimp.post(member_url(person_email(6), "/actions/delete-permanent"))
    listed = mailchimp.get(f"/3.0/lists/{LIST_ID}/members", params={"count": 1000}).json()
    assert len(listed["members"]) == N_MEMBERS  # one added, one deleted
    for member in listed["members"]:
        assert mailchimp.get(member_url(member["email_address"])).json() == member
