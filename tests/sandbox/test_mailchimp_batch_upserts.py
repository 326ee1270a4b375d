"""Member upserts in the Mailchimp emulator's batch operations, which read their members once and
save them in one transaction: each is answered exactly as the same call made directly, what they
saved reads back (also after a restart), and a failure part-way saves nothing."""

from __future__ import annotations

import json

import duckdb
import pytest

from sandbox.mailchimp.member_batch import merge_patch
from sandbox.mailchimp.state import MailchimpState
from sandbox.state import SandboxState
from tests.sandbox.klaviyo_fixtures import NOW
from tests.sandbox.mailchimp_fixtures import (
    LIST_ID,
    SCORE,
    ctx_on_file,
    finished_batch,
    make_client,
    md5,
    member_url,
    person_email,
    put_body,
)

HOME = {"addr1": "1 Main St", "city": "Portland", "state": "OR", "zip": "97201"}
MOVED = {"zip": "97202", "addr1": "2 Side St", "city": "Portland", "state": "OR", "country": "US"}
NEW, STORE, UNSUBSCRIBED, FORGOTTEN = (
    "batch.new@example.com",
    person_email(0),
    person_email(1),
    person_email(3),
)


def _put(email: str, path_email: str | None = None, params: dict | None = None, **body) -> dict:
    operation = {
        "method": "PUT",
        "path": member_url(path_email or email).removeprefix("/3.0"),
        "body": json.dumps(put_body(email, **body)),
    }
    return operation | ({"params": params} if params else {})


def _operations() -> list[dict]:
    """Upserts with every outcome, the same member several times, and other calls between them
    whose effect a later upsert's answer shows."""
    tags = {"tags": [{"name": "VIP", "status": "active"}]}
    operations = [
        _put(STORE, merge_fields={"CHURN": 0.4, "ADDRESS": HOME}),
        _put(NEW, merge_fields={"CHURN": 0.1, "ADDRESS": HOME}),
        _put(NEW, merge_fields={"CHURN": 0.30000000000000004, "ADDRESS": MOVED}),
        _put(UNSUBSCRIBED, status="subscribed"),
        _put(NEW, path_email=STORE),
        _put(NEW, merge_fields={"CHURN": "lots", "NOPE": 1}),
        _put(NEW, params={"skip_merge_validation": "maybe"}),
        {"method": "POST", "path": member_url(NEW, "/tags").removeprefix("/3.0"),
         "body": json.dumps(tags)},
        _put(NEW, merge_fields={"CHURN": ""}),
        {"method": "GET", "path": member_url(NEW).removeprefix("/3.0")},
        {"method": "POST",
         "path": member_url(FORGOTTEN, "/actions/delete-permanent").removeprefix("/3.0")},
        _put(FORGOTTEN),
        _put(UNSUBSCRIBED, status_if_new="subscribed", merge_fields={"CHURN": 0.9}),
    ]  # fmt: skip
    return [op | {"operation_id": str(n)} for n, op in enumerate(operations)]


def _comparable(status: int, text: str) -> tuple[int, object]:
    """An answer without the problem `instance`, which is a fresh id on every call."""
    body = json.loads(text) if text else None
    if isinstance(body, dict):
        body.pop("instance", None)
    return status, body


def _members(client) -> list[dict]:
    return client.get(f"/3.0/lists/{LIST_ID}/members", params={"count": 1000}).json()["members"]


def test_a_batch_answers_each_upsert_as_the_same_call_made_directly(tmp_path):
    first = ctx_on_file(tmp_path / "state.duckdb")
    direct, batched = make_client(), make_client(first)
    for client in (direct, batched):
        assert client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=SCORE).status_code == 200
    operations = _operations()
    expected = []
    for op in operations:
        answer = direct.request(
            op["method"], "/3.0" + op["path"], content=op.get("body"), params=op.get("params")
        )
        expected.append(_comparable(answer.status_code, answer.text))
    batch, results = finished_batch(batched, operations)
    answers = [results[op["operation_id"]] for op in operations]
    assert [_comparable(a["status_code"], a["response"]) for a in answers] == expected
    assert batch["errored_operations"] == sum(status >= 400 for status, _ in expected) == 5
    # The address merged key by key; the last upsert's values and the tag read back.
    new = json.loads(answers[8]["response"])
    assert new["merge_fields"]["ADDRESS"] == {**HOME, **MOVED}
    assert (new["merge_fields"]["CHURN"], new["tags"][0]["name"]) == ("", "VIP")
    assert _members(batched) == _members(direct)
    first.state.close()
    restarted = make_client(ctx_on_file(tmp_path / "state.duckdb"))
    assert _members(restarted) == _members(direct)


def test_merge_patch_merges_and_orders_keys_as_duckdb_does():
    cases = [
        ({}, {"A": 1, "B": "x"}),
        ({"A": 1, "B": "x"}, {"B": "", "C": 0.1}),
        ({"ADDRESS": HOME, "A": 1}, {"ADDRESS": MOVED}),
        ({"ADDRESS": "gone"}, {"ADDRESS": HOME, "A": [1, 2]}),
    ]
    con = duckdb.connect()
    for target, patch in cases:
        [(sql,)] = con.execute(
            "select json_merge_patch(?::json, ?::json)::varchar",
            [json.dumps(target), json.dumps(patch)],
        ).fetchall()
        assert json.dumps(merge_patch(target, patch)) == json.dumps(json.loads(sql))


def test_a_member_batch_that_fails_part_way_saves_nothing():
    state = MailchimpState(SandboxState(":memory:"))
    with pytest.raises(RuntimeError), state.member_batch(LIST_ID, [md5(NEW)]) as batch:
        batch.write(md5(NEW), NEW, "subscribed", {"CHURN": 1}, NOW, created=True)
        raise RuntimeError("the handler broke")
    assert state.members_table(LIST_ID).num_rows == 0
    with state.member_batch(LIST_ID, [md5(NEW)]) as batch:
        batch.write(md5(NEW), NEW, "subscribed", {"CHURN": 1}, NOW, created=True)
        batch.write(md5(NEW), NEW, None, {"ADDRESS": HOME}, NOW, created=False)
    [row] = state.members_table(LIST_ID).to_pylist()
    assert (row["status"], json.loads(row["written"])) == (
        "subscribed",
        {"CHURN": 1, "ADDRESS": HOME},
    )
