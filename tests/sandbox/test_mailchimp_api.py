"""The Mailchimp emulator's behaviour: audience seeding, consent safety, validation, limits, and
static segments that are the tags (paging, creation, batches of at most 500, restarts)."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time

import pytest

from sandbox.mailchimp.api import ConnectionLimiter
from sandbox.state import SandboxState
from tests.sandbox.klaviyo_fixtures import make_ctx
from tests.sandbox.mailchimp_fixtures import (
    LIST_ID,
    N_MEMBERS,
    make_client,
    md5,
    member_url,
    person_email,
    put_body,
)

SCORE = {"tag": "CHURN", "name": "Churn probability", "type": "number"}


@pytest.fixture
def client():
    return make_client()


def statuses(client) -> dict[str, str]:
    page = client.get(f"/3.0/lists/{LIST_ID}/members", params={"count": 1000}).json()
    return {m["email_address"]: m["status"] for m in page["members"]}


def test_audience_is_the_shop_seeded_from_store_consent(client):
    lists = client.get("/3.0/lists").json()
    assert [a["name"] for a in lists["lists"]] == ["Foresight Coffee & Tea"]
    assert lists["lists"][0]["id"] == LIST_ID
    seen = statuses(client)
    assert len(seen) == N_MEMBERS  # no member for the missing or the invalid email
    expected = {0: "subscribed", 1: "unsubscribed", 2: "transactional", 3: "subscribed"}
    expected |= {4: "cleaned", 14: "cleaned"}
    for n, status in expected.items():
        assert seen[person_email(n)] == status, n
    audience = client.get(f"/3.0/lists/{LIST_ID}").json()
    assert audience["stats"]["member_count"] == list(seen.values()).count("subscribed")
    assert audience["stats"]["cleaned_count"] == 3


def test_status_if_new_upsert_never_changes_an_existing_status(client):
    client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    before = statuses(client)
    for n in (0, 1, 2, 4):
        email = person_email(n)
        body = put_body(email, status_if_new="subscribed", merge_fields={"CHURN": 0.25})
        answer = client.put(member_url(email), json=body)
        assert answer.status_code == 200
        assert answer.json()["merge_fields"]["CHURN"] == 0.25
    assert statuses(client) == before
    created = client.put(member_url("new@example.com"), json=put_body("New@Example.com"))
    assert created.json()["status"] == "transactional"
    assert created.json()["id"] == md5("new@example.com")
    again = client.put(member_url("new@example.com"), json=put_body("new@example.com"))
    assert again.json()["status"] == "transactional"
    assert client.get(f"/3.0/lists/{LIST_ID}/members").json()["total_items"] == N_MEMBERS + 1


def test_status_is_applied_but_never_resubscribes_the_unsubscribed(client):
    email = person_email(1)
    refused = client.put(member_url(email), json=put_body(email, status="subscribed"))
    assert refused.status_code == 400
    assert refused.json()["title"] == "Member In Compliance State"
    assert statuses(client)[email] == "unsubscribed"
    subscribed = person_email(0)
    client.put(member_url(subscribed), json=put_body(subscribed, status="unsubscribed"))
    assert statuses(client)[subscribed] == "unsubscribed"


def test_subscriber_hash_must_match_the_email(client):
    email = person_email(0)
    wrong = client.put(member_url(person_email(2)), json=put_body(email))
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"
    assert set(wrong.json()) >= {"type", "title", "status", "detail", "instance"}
    by_email = client.get(f"/3.0/lists/{LIST_ID}/members/{email.upper()}")
    assert by_email.json()["id"] == md5(email)
    assert client.get(member_url("nobody@example.com")).status_code == 404


def test_merge_values_are_checked_against_known_fields_and_types(client):
    email = person_email(0)
    unknown = client.put(member_url(email), json=put_body(email, merge_fields={"NOPE": 1}))
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [
        {"field": "NOPE", "message": "Merge field NOPE does not exist."}
    ]
    assert client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE).status_code == 200
    tier = {"tag": "TIER", "name": "Tier", "type": "dropdown"}
    tier["options"] = {"choices": ["high", "medium", "low"]}
    client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=tier)
    bad = client.put(
        member_url(email), json=put_body(email, merge_fields={"CHURN": "x", "TIER": "huge"})
    )
    assert {e["field"] for e in bad.json()["errors"]} == {"CHURN", "TIER"}
    good = {"CHURN": "0.5", "TIER": "high", "FNAME": "Ada"}
    merge = client.put(member_url(email), json=put_body(email, merge_fields=good)).json()
    assert {k: merge["merge_fields"][k] for k in good} == {**good, "CHURN": 0.5}
    duplicate = client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    assert duplicate.status_code == 400
    tags = client.get(f"/3.0/lists/{LIST_ID}/merge-fields").json()["merge_fields"]
    expected = "FNAME LNAME ADDRESS PHONE BIRTHDAY CHURN TIER".split()
    assert [f["tag"] for f in tags] == expected


def test_tags_are_added_and_removed(client):
    email = person_email(6)
    tag = {"tags": [{"name": "VIP", "status": "active"}, {"name": "Lapsed", "status": "active"}]}
    assert client.post(member_url(email, "/tags"), json=tag).status_code == 204
    off = {"tags": [{"name": "vip", "status": "inactive"}]}
    assert client.post(member_url(email, "/tags"), json=off).status_code == 204
    member = client.get(member_url(email)).json()
    assert [t["name"] for t in member["tags"]] == ["Lapsed"]
    assert member["status"] == "subscribed"
    missing = client.post(member_url("nobody@example.com", "/tags"), json=tag)
    assert missing.status_code == 404


def test_batch_endpoint_caps_members_and_needs_a_status(client):
    many = [{"email_address": f"b{n}@example.com", "status": "transactional"} for n in range(501)]
    too_many = client.post(f"/3.0/lists/{LIST_ID}", json={"members": many})
    assert too_many.status_code == 400
    members = [
        {"email_address": "b1@example.com", "status": "transactional"},
        {"email_address": "b2@example.com"},  # no status: refused, per member
        {"email_address": person_email(0), "status": "unsubscribed"},
    ]
    result = client.post(f"/3.0/lists/{LIST_ID}", json={"members": members}).json()
    assert result["total_created"] == 1 and result["error_count"] == 2
    codes = sorted(e["error_code"] for e in result["errors"])
    assert codes == ["ERROR_CONTACT_EXISTS", "ERROR_GENERIC"]
    assert statuses(client)[person_email(0)] == "subscribed"


def test_members_page_by_count_and_offset_with_fields(client):
    params = {"count": 10, "fields": "members.email_address,total_items"}
    pages = [
        client.get(f"/3.0/lists/{LIST_ID}/members", params={**params, "offset": offset}).json()
        for offset in (0, 10, 20)
    ]
    emails = [m["email_address"] for page in pages for m in page["members"]]
    assert len(emails) == len(set(emails)) == N_MEMBERS
    assert pages[0]["members"][0] == {"email_address": emails[0]}
    assert set(pages[0]) == {"members", "total_items"}
    bad = client.get(f"/3.0/lists/{LIST_ID}/members", params={"count": 1001})
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
def test_rejects_bad_credentials(client, header):
    headers = {"Authorization": header} if header else {"Authorization": ""}
    answer = client.get("/3.0/ping", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["title"] in ("API Key Missing", "API Key Invalid")


def test_basic_auth_with_any_user_name_is_accepted(client):
    header = "Basic " + base64.b64encode(b"anystring:sandbox-key").decode()
    assert client.get("/3.0/ping", headers={"Authorization": header}).status_code == 200


def test_too_many_simultaneous_connections_get_429():
    limiter = ConnectionLimiter(limit=2)
    client = make_client(limiter=limiter)
    limiter.acquire()
    limiter.acquire()  # two requests in flight elsewhere
    refused = client.get("/3.0/ping")
    assert refused.status_code == 429
    assert refused.json()["title"] == "Too Many Requests"
    limiter.release()
    assert client.get("/3.0/ping").status_code == 200
    assert limiter.in_flight == 1  # the answered request gave its slot back


def test_writes_persist_across_a_restart(tmp_path):
    path = tmp_path / "state.duckdb"
    first = make_ctx(state=SandboxState(path))
    client = make_client(first)
    client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    email = person_email(9)
    client.put(member_url(email), json=put_body(email, merge_fields={"CHURN": 0.9}))
    first.state.close()
    restarted = make_client(make_ctx(state=SandboxState(path)))
    assert restarted.get(member_url(email)).json()["merge_fields"]["CHURN"] == 0.9


def test_a_permanently_deleted_member_is_gone_for_good(client):
    client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    store, added = person_email(0), "added@example.com"
    client.put(member_url(store), json=put_body(store, merge_fields={"CHURN": 0.4}))
    client.post(member_url(store, "/tags"), json={"tags": [{"name": "VIP", "status": "active"}]})
    client.put(member_url(added), json=put_body(added))
    before = set(statuses(client))
    for email in (store, added):
        deleted = client.post(member_url(email, "/actions/delete-permanent"))
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert client.get(member_url(email)).status_code == 404
    assert set(statuses(client)) == before - {store, added}
    again = client.post(member_url(store, "/actions/delete-permanent"))
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["title"] == "Resource Not Found"
    refused = client.put(member_url(store), json=put_body(store))
    assert refused.status_code == 400
    assert refused.json()["title"] == "Forgotten Email Not Subscribed"
    tag = {"tags": [{"name": "VIP", "status": "inactive"}]}
    assert client.post(member_url(store, "/tags"), json=tag).status_code == 404


def test_deleting_a_member_never_there_is_404(client):
    answer = client.post(member_url("never.there@example.com", "/actions/delete-permanent"))
    assert answer.status_code == 404
    assert len(statuses(client)) == N_MEMBERS


def test_a_deletion_persists_across_a_restart(tmp_path):
    path = tmp_path / "state.duckdb"
    first = make_ctx(state=SandboxState(path))
    email = person_email(9)
    assert make_client(first).post(member_url(email, "/actions/delete-permanent")).is_success
    first.state.close()
    restarted = make_client(make_ctx(state=SandboxState(path)))
    assert restarted.get(member_url(email)).status_code == 404
    assert len(statuses(restarted)) == N_MEMBERS - 1
    assert restarted.put(member_url(email), json=put_body(email)).status_code == 400


def test_unsupported_method_gets_405(client):
    answer = client.delete(f"/3.0/lists/{LIST_ID}")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"


def test_a_member_reads_the_same_alone_and_in_the_list(client):
    """The point lookup (used by every upsert) and the listing query agree on every member."""
    client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    for n in (0, 1, 4):
        email = person_email(n)
        client.put(member_url(email), json=put_body(email, merge_fields={"CHURN": n}))
    client.put(member_url(person_email(2)), json=put_body(person_email(2), status="unsubscribed"))
    client.put(member_url("new@example.com"), json=put_body("new@example.com"))
    tag = {"tags": [{"name": "VIP", "status": "active"}]}
    client.post(member_url(person_email(0), "/tags"), json=tag)
    client.post(member_url(person_email(6), "/actions/delete-permanent"))
    listed = client.get(f"/3.0/lists/{LIST_ID}/members", params={"count": 1000}).json()
    assert len(listed["members"]) == N_MEMBERS  # one added, one deleted
    for member in listed["members"]:
        assert client.get(member_url(member["email_address"])).json() == member


# -- static segments, which are the tags ----------------------------------------------------------

SEGMENTS_URL = f"/3.0/lists/{LIST_ID}/segments"


def segment_url(segment_id: int) -> str:
    return f"{SEGMENTS_URL}/{segment_id}"


def tag_names(client, n: int) -> list[str]:
    return [t["name"] for t in client.get(member_url(person_email(n))).json()["tags"]]


def tag(client, n: int, name: str, status: str = "active") -> None:
    body = {"tags": [{"name": name, "status": status}]}
    assert client.post(member_url(person_email(n), "/tags"), json=body).status_code == 204


def test_tags_are_static_segments_listed_page_by_page(client):
    for n, name in ((0, "VIP"), (3, "Lapsed"), (1, "Tea")):
        tag(client, n, name)
    created = client.post(SEGMENTS_URL, json={"name": "Winback", "static_segment": []}).json()
    pages = [
        client.get(SEGMENTS_URL, params={"type": "static", "count": 3, "offset": offset}).json()
        for offset in (0, 3)
    ]
    assert [len(page["segments"]) for page in pages] == [3, 1]
    assert {page["total_items"] for page in pages} == {4}
    segments = {s["name"]: s for page in pages for s in page["segments"]}
    assert list(segments) == ["VIP", "Lapsed", "Tea", "Winback"]
    assert {s["type"] for s in segments.values()} == {"static"}
    assert segments["Winback"]["id"] == created["id"]
    # member_count counts subscribed holders: person 1 is unsubscribed.
    counts = {name: s["member_count"] for name, s in segments.items()}
    assert counts == {"VIP": 1, "Lapsed": 1, "Tea": 0, "Winback": 0}
    # A member's tag ids are the segment ids.
    assert client.get(member_url(person_email(0))).json()["tags"][0]["id"] == segments["VIP"]["id"]
    saved = client.get(SEGMENTS_URL, params={"type": "saved"}).json()
    assert (saved["segments"], saved["total_items"]) == ([], 0)
    assert client.get(SEGMENTS_URL, params={"type": "dynamic"}).status_code == 400
    trimmed = client.get(SEGMENTS_URL, params={"fields": "segments.id,segments.name", "count": 1})
    trimmed = trimmed.json()
    assert trimmed == {"segments": [{"id": segments["VIP"]["id"], "name": "VIP"}]}


def test_a_static_segment_is_created_with_the_members_it_names(client):
    emails = [person_email(0), person_email(2).upper(), "nobody@example.com", "not-an-email"]
    created = client.post(SEGMENTS_URL, json={"name": "Launch", "static_segment": emails})
    assert created.status_code == 200
    assert created.json()["member_count"] == 1  # person 2 is transactional, not subscribed
    assert tag_names(client, 0) == tag_names(client, 2) == ["Launch"]
    for body in (
        {"name": "launch", "static_segment": []},  # names match case-insensitively
        {"name": "Saved", "options": {"match": "any", "conditions": []}},
        {"name": " ", "static_segment": []},
        {"name": "No members given"},
    ):
        refused = client.post(SEGMENTS_URL, json=body)
        assert refused.status_code == 400, body
        assert refused.headers["content-type"] == "application/problem+json"
    assert client.get(SEGMENTS_URL).json()["total_items"] == 1


def test_batch_adds_and_removes_members_by_email_as_tags(client):
    segment = client.post(SEGMENTS_URL, json={"name": "VIP", "static_segment": [person_email(3)]})
    segment_id = segment.json()["id"]
    client.post(member_url(person_email(12), "/actions/delete-permanent"))
    body = {
        "members_to_add": [
            person_email(0),
            person_email(6).upper(),
            person_email(3),  # already in: ignored
            person_email(12),  # deleted: ignored
            "nobody@example.com",  # never in the audience: ignored
            "bad@@example",
        ],
        "members_to_remove": [person_email(3), person_email(9)],  # 9 is not in: ignored
    }
    answer = client.post(segment_url(segment_id), json=body).json()
    assert [m["email_address"] for m in answer["members_added"]] == [
        person_email(0),
        person_email(6),
    ]
    assert all("VIP" in [t["name"] for t in m["tags"]] for m in answer["members_added"])
    assert [m["email_address"] for m in answer["members_removed"]] == [person_email(3)]
    assert [e["email_addresses"] for e in answer["errors"]] == [["bad@@example"]]
    assert (answer["total_added"], answer["total_removed"], answer["error_count"]) == (2, 1, 1)
    # Member reads and the tags endpoint see the batch; the batch sees the tags endpoint.
    assert (tag_names(client, 0), tag_names(client, 3)) == (["VIP"], [])
    tag(client, 0, "vip", "inactive")
    tag(client, 9, "VIP")
    again = {
        "members_to_add": [person_email(6)],
        "members_to_remove": [person_email(0), person_email(9)],
    }
    answer = client.post(segment_url(segment_id), json=again).json()
    assert answer["total_added"] == 0  # person 6 already holds the tag
    assert [m["email_address"] for m in answer["members_removed"]] == [person_email(9)]
    [listed] = client.get(SEGMENTS_URL).json()["segments"]
    assert listed["member_count"] == 1  # person 6
    assert tag_names(client, 9) == []


def test_a_batch_over_500_emails_a_side_is_refused(client):
    segment_id = client.post(SEGMENTS_URL, json={"name": "VIP", "static_segment": []}).json()["id"]
    many = [f"b{n}@example.com" for n in range(501)]
    for body in ({"members_to_add": many}, {"members_to_remove": many}):
        refused = client.post(segment_url(segment_id), json=body)
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["title"] == "Invalid Resource"
        assert "at most 500" in refused.json()["detail"]
    both = {"members_to_add": many[:500], "members_to_remove": many[:500]}
    assert client.post(segment_url(segment_id), json=both).json()["total_added"] == 0
    assert client.post(segment_url(segment_id + 1), json={}).status_code == 404
    assert client.post(segment_url(segment_id), json={"members_to_add": "x"}).status_code == 400
    assert client.get(segment_url(segment_id)).headers["allow"] == "POST"
    unauthenticated = client.get(SEGMENTS_URL, headers={"Authorization": ""})
    assert unauthenticated.status_code == 401


def test_segments_and_their_members_persist_across_a_restart(tmp_path):
    path = tmp_path / "state.duckdb"
    first = make_ctx(state=SandboxState(path))
    client = make_client(first)
    created = client.post(SEGMENTS_URL, json={"name": "VIP", "static_segment": [person_email(0)]})
    segment_id = created.json()["id"]
    body = {"members_to_add": [person_email(3)], "members_to_remove": [person_email(0)]}
    client.post(segment_url(segment_id), json=body)
    first.state.close()
    restarted = make_client(make_ctx(state=SandboxState(path)))
    [listed] = restarted.get(SEGMENTS_URL).json()["segments"]
    assert (listed["id"], listed["name"], listed["member_count"]) == (segment_id, "VIP", 1)
    assert (tag_names(restarted, 3), tag_names(restarted, 0)) == (["VIP"], [])


def _finished_batch(client, operations: list[dict]) -> tuple[dict, dict[str, dict]]:
    """Submit a batch, poll it to the end, and read its results archive by operation id."""
    submitted = client.post("/3.0/batches", json={"operations": operations})
    assert submitted.status_code == 200 and submitted.json()["status"] == "pending"
    batch_url = f"/3.0/batches/{submitted.json()['id']}"
    deadline = time.monotonic() + 10
    while (batch := client.get(batch_url).json())["status"] != "finished":
        assert time.monotonic() < deadline, batch
        time.sleep(0.02)
    archive = client.get(batch["response_body_url"], headers={"Authorization": ""})
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as files:
        results = [
            item
            for m in files.getmembers()
            if m.isfile()
            for item in json.load(files.extractfile(m))
        ]
    return batch, {r["operation_id"]: r for r in results}


def test_batch_operations_run_each_call_as_if_it_were_direct(client):
    client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
    unsubscribed, new = person_email(1), "batch.new@example.com"
    put = lambda email, **body: {  # noqa: E731
        "method": "PUT",
        "path": member_url(email).removeprefix("/3.0"),
        "body": json.dumps(put_body(email, **body)),
    }
    operations = [
        {**put(unsubscribed, status_if_new="subscribed", merge_fields={"CHURN": 0.5}),
         "operation_id": "existing"},
        {**put(new, merge_fields={"CHURN": 0.1}), "operation_id": "new"},
        {**put(new, merge_fields={"CHURN": "lots"}), "operation_id": "bad-value"},
        {"method": "GET", "path": "/lists/nope", "operation_id": "missing"},
    ]  # fmt: skip
    batch, results = _finished_batch(client, operations)
    assert (batch["total_operations"], batch["finished_operations"]) == (4, 4)
    assert batch["errored_operations"] == 2
    assert {k: r["status_code"] for k, r in results.items()} == {
        "existing": 200, "new": 200, "bad-value": 400, "missing": 404,
    }  # fmt: skip
    # status_if_new keeps an existing member's consent inside a batch exactly as outside one.
    assert json.loads(results["existing"]["response"])["status"] == "unsubscribed"
    assert statuses(client)[unsubscribed] == "unsubscribed"
    assert client.get(member_url(new)).json()["merge_fields"]["CHURN"] == 0.1


def test_malformed_batches_and_unknown_batch_ids_are_refused(client):
    refused = client.post("/3.0/batches", json={"operations": [{"method": "FETCH", "path": "/"}]})
    assert refused.status_code == 400 and refused.json()["title"] == "Invalid Resource"
    assert client.get("/3.0/batches/0000000000").status_code == 404
