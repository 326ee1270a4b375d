"""The Mailchimp emulator's static segments, which are the tags (paging, creation, batches of at
most 500 emails a side, restarts), and its batch operations (`POST /batches`)."""

from __future__ import annotations

import json

from tests.sandbox.mailchimp_fixtures import (
    LIST_ID,
    SCORE,
    ctx_on_file,
    finished_batch,
    make_client,
    member_url,
    person_email,
    put_body,
    statuses,
)

SEGMENTS_URL = f"/3.0/lists/{LIST_ID}/segments"


def segment_url(segment_id: int) -> str:
    return f"{SEGMENTS_URL}/{segment_id}"


def tag_names(mailchimp, n: int) -> list[str]:
    return [t["name"] for t in mailchimp.get(member_url(person_email(n))).json()["tags"]]


def tag(mailchimp, n: int, name: str, status: str = "active") -> None:
    body = {"tags": [{"name": name, "status": status}]}
    assert mailchimp.post(member_url(person_email(n), "/tags"), json=body).status_code == 204


def test_tags_are_static_segments_listed_page_by_page(mailchimp):
    for n, name in ((0, "VIP"), (3, "Lapsed"), (1, "Tea")):
        tag(mailchimp, n, name)
    created = mailchimp.post(SEGMENTS_URL, json={"name": "Winback", "static_segment": []}).json()
    pages = [
        mailchimp.get(SEGMENTS_URL, params={"type": "static", "count": 3, "offset": offset}).json()
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
    assert (
        mailchimp.get(member_url(person_email(0))).json()["tags"][0]["id"] == segments["VIP"]["id"]
    )
    saved = mailchimp.get(SEGMENTS_URL, params={"type": "saved"}).json()
    assert (saved["segments"], saved["total_items"]) == ([], 0)
    assert mailchimp.get(SEGMENTS_URL, params={"type": "dynamic"}).status_code == 400
    trimmed = mailchimp.get(
        SEGMENTS_URL, params={"fields": "segments.id,segments.name", "count": 1}
    )
    trimmed = trimmed.json()
    assert trimmed == {"segments": [{"id": segments["VIP"]["id"], "name": "VIP"}]}


def test_a_static_segment_is_created_with_the_members_it_names(mailchimp):
    emails = [person_email(0), person_email(2).upper(), "nobody@example.com", "not-an-email"]
    created = mailchimp.post(SEGMENTS_URL, json={"name": "Launch", "static_segment": emails})
    assert created.status_code == 200
    assert created.json()["member_count"] == 1  # person 2 is transactional, not subscribed
    assert tag_names(mailchimp, 0) == tag_names(mailchimp, 2) == ["Launch"]
    for body in (
        {"name": "launch", "static_segment": []},  # names match case-insensitively
        {"name": "Saved", "options": {"match": "any", "conditions": []}},
        {"name": " ", "static_segment": []},
        {"name": "No members given"},
    ):
        refused = mailchimp.post(SEGMENTS_URL, json=body)
        assert refused.status_code == 400, body
        assert refused.headers["content-type"] == "application/problem+json"
    assert mailchimp.get(SEGMENTS_URL).json()["total_items"] == 1


def test_batch_adds_and_removes_members_by_email_as_tags(mailchimp):
    segment = mailchimp.post(
        SEGMENTS_URL, json={"name": "VIP", "static_segment": [person_email(3)]}
    )
    segment_id = segment.json()["id"]
    mailchimp.post(member_url(person_email(12), "/actions/delete-permanent"))
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
    answer = mailchimp.post(segment_url(segment_id), json=body).json()
    assert [m["email_address"] for m in answer["members_added"]] == [
        person_email(0),
        person_email(6),
    ]
    assert all("VIP" in [t["name"] for t in m["tags"]] for m in answer["members_added"])
    assert [m["email_address"] for m in answer["members_removed"]] == [person_email(3)]
    assert [e["email_addresses"] for e in answer["errors"]] == [["bad@@example"]]
    assert (answer["total_added"], answer["total_removed"], answer["error_count"]) == (2, 1, 1)
    # Member reads and the tags endpoint see the batch; the batch sees the tags endpoint.
    assert (tag_names(mailchimp, 0), tag_names(mailchimp, 3)) == (["VIP"], [])
    tag(mailchimp, 0, "vip", "inactive")
    tag(mailchimp, 9, "VIP")
    again = {
        "members_to_add": [person_email(6)],
        "members_to_remove": [person_email(0), person_email(9)],
    }
    answer = mailchimp.post(segment_url(segment_id), json=again).json()
    assert answer["total_added"] == 0  # person 6 already holds the tag
    assert [m["email_address"] for m in answer["members_removed"]] == [person_email(9)]
    [listed] = mailchimp.get(SEGMENTS_URL).json()["segments"]
    assert listed["member_count"] == 1  # person 6
    assert tag_names(mailchimp, 9) == []


def test_a_batch_over_500_emails_a_side_is_refused(mailchimp):
    segment_id = mailchimp.post(SEGMENTS_URL, json={"name": "VIP", "static_segment": []}).json()[
        "id"
    ]
    many = [f"b{n}@example.com" for n in range(501)]
    for body in ({"members_to_add": many}, {"members_to_remove": many}):
        refused = mailchimp.post(segment_url(segment_id), json=body)
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["title"] == "Invalid Resource"
        assert "at most 500" in refused.json()["detail"]
    both = {"members_to_add": many[:500], "members_to_remove": many[:500]}
    assert mailchimp.post(segment_url(segment_id), json=both).json()["total_added"] == 0
    assert mailchimp.post(segment_url(segment_id + 1), json={}).status_code == 404
    assert mailchimp.post(segment_url(segment_id), json={"members_to_add": "x"}).status_code == 400
    assert mailchimp.get(segment_url(segment_id)).headers["allow"] == "POST"
    unauthenticated = mailchimp.get(SEGMENTS_URL, headers={"Authorization": ""})
    assert unauthenticated.status_code == 401


def test_segments_and_their_members_persist_across_a_restart(tmp_path):
    path = tmp_path / "state.duckdb"
    first = ctx_on_file(path)
    mailchimp = make_client(first)
    created = mailchimp.post(
        SEGMENTS_URL, json={"name": "VIP", "static_segment": [person_email(0)]}
    )
    segment_id = created.json()["id"]
    body = {"members_to_add": [person_email(3)], "members_to_remove": [person_email(0)]}
    mailchimp.post(segment_url(segment_id), json=body)
    first.state.close()
    restarted = make_client(ctx_on_file(path))
    [listed] = restarted.get(SEGMENTS_URL).json()["segments"]
    assert (listed["id"], listed["name"], listed["member_count"]) == (segment_id, "VIP", 1)
    assert (tag_names(restarted, 3), tag_names(restarted, 0)) == (["VIP"], [])


def test_batch_operations_run_each_call_as_if_it_were_direct(mailchimp):
    mailchimp.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE)
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
    batch, results = finished_batch(mailchimp, operations)
    assert (batch["total_operations"], batch["finished_operations"]) == (4, 4)
    assert batch["errored_operations"] == 2
    assert {k: r["status_code"] for k, r in results.items()} == {
        "existing": 200, "new": 200, "bad-value": 400, "missing": 404,
    }  # fmt: skip
    # status_if_new keeps an existing member's consent inside a batch exactly as outside one.
    assert json.loads(results["existing"]["response"])["status"] == "unsubscribed"
    assert statuses(mailchimp)[unsubscribed] == "unsubscribed"
    assert mailchimp.get(member_url(new)).json()["merge_fields"]["CHURN"] == 0.1


def test_malformed_batches_and_unknown_batch_ids_are_refused(mailchimp):
    refused = mailchimp.post(
        "/3.0/batches", json={"operations": [{"method": "FETCH", "path": "/"}]}
    )
    assert refused.status_code == 400 and refused.json()["title"] == "Invalid Resource"
    assert mailchimp.get("/3.0/batches/0000000000").status_code == 404
