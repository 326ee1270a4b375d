"""MailchimpClient on a script: the requests it sends (member upserts as one batch of PUTs,
permanent deletions), how it reads the answers, and the checks it makes before sending."""

from __future__ import annotations

import base64
import io
import json
import tarfile

import pytest

from pipeline.lib.clients.http import ApiError, RequestRejectedError
from pipeline.lib.clients.mailchimp import (
    MailchimpClient,
    MemberUpsert,
    base_url_for_key,
    subscriber_hash,
)
from tests.lib.clients.mailchimp_client_fixtures import client
from tests.lib.clients.sandbox_fixtures import Reply, scripted


def test_new_members_are_never_subscribed():
    with pytest.raises(ValueError, match="never subscribes"):
        MemberUpsert("a@example.com", {}, status_if_new="subscribed")


def test_base_url_follows_the_key_data_centre():
    assert base_url_for_key("0123abcd-us21") == "https://us21.api.mailchimp.com/3.0"
    with pytest.raises(ValueError, match="MAILCHIMP_API_KEY") as raised:
        base_url_for_key("secretwithoutdc")
    assert "secretwithoutdc" not in str(raised.value)
    assert MailchimpClient(None, "k-us3").api_url == "https://us3.api.mailchimp.com/3.0"


def _results_archive(results: list[dict]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = json.dumps(results).encode()
        info = tarfile.TarInfo("b1/0.json")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def test_upserts_are_member_puts_in_one_batch_with_basic_auth_and_the_member_hash():
    api = client("https://us5.api.mailchimp.com", key="abc-us5")
    results = [
        {"status_code": 200, "operation_id": "0", "response": json.dumps({"status": "subscribed"})},
        {"status_code": 400, "operation_id": "1", "response": json.dumps(
            {"title": "Invalid Resource", "detail": "bad@example.com looks fake", "status": 400}
        )},
    ]  # fmt: skip
    url = "https://bucket.s3.amazonaws.com/b1.tar.gz?signature=x"
    adapter = scripted(
        api.session,
        [
            Reply(200, {"id": "b1", "status": "pending"}),
            Reply(200, {"id": "b1", "status": "finished", "response_body_url": url}),
            Reply(200, _results_archive(results)),
        ],
    )
    upserts = [MemberUpsert(" Jane@Example.COM ", {"CHURN": 1}), MemberUpsert("bad@example.com")]
    outcomes = api.upsert_members("L1", upserts)
    submit, poll, download = adapter.requests
    assert (submit.method, submit.url) == ("POST", "https://us5.api.mailchimp.com/3.0/batches")
    assert poll.url == "https://us5.api.mailchimp.com/3.0/batches/b1"
    assert (download.url, download.headers.get("Authorization")) == (url, None)
    auth = "Basic " + base64.b64encode(b"foresight:abc-us5").decode()
    assert submit.headers["Authorization"] == poll.headers["Authorization"] == auth
    put = json.loads(submit.body)["operations"][0]
    assert (put["method"], put["path"], put["operation_id"]) == (
        "PUT", f"/lists/L1/members/{subscriber_hash('jane@example.com')}", "0",
    )  # fmt: skip
    assert json.loads(put["body"]) == {
        "email_address": "Jane@Example.COM",
        "status_if_new": "transactional",
        "merge_fields": {"CHURN": 1},
    }
    assert api.write_calls == 1
    assert [(o.ok, o.status) for o in outcomes] == [(True, "subscribed"), (False, None)]
    assert "Invalid Resource" in outcomes[1].error and "bad@example.com" not in outcomes[1].error


def test_a_permanent_deletion_says_whether_there_was_a_member():
    api = client("https://us5.api.mailchimp.com", key="abc-us5")
    problem = {"type": "t", "title": "Resource Not Found", "status": 404, "detail": "d"}
    adapter = scripted(
        api.session,
        [
            Reply(204, b""),
            Reply(404, problem),
            Reply(503, b""),  # retried
            Reply(204, b""),
            Reply(400, {**problem, "title": "Bad Request", "status": 400}),
        ],
    )
    member = subscriber_hash("jane@example.com")
    assert api.delete_member_permanently("L1", member) is True
    assert api.delete_member_permanently("L1", member) is False
    assert api.delete_member_permanently("L1", member) is True
    with pytest.raises(RequestRejectedError, match="HTTP 400"):
        api.delete_member_permanently("L1", member)
    url = f"https://us5.api.mailchimp.com/3.0/lists/L1/members/{member}/actions/delete-permanent"
    assert {(r.method, r.url) for r in adapter.requests} == {("POST", url)}
    assert api.write_calls == 4 and len(adapter.requests) == 5


def test_a_malformed_page_is_read_again_and_one_that_stays_malformed_stops_the_read():
    api = client("https://us5.api.mailchimp.com", key="abc-us5")
    good = {"members": [{"id": "h1", "status": "subscribed"}], "total_items": 1}
    no_id = {"members": [{"status": "subscribed"}], "total_items": 1}
    adapter = scripted(api.session, [Reply(200, no_id), Reply(200, good)])
    assert list(api.iter_members("L1", fields=["id", "status"])) == good["members"]
    assert len(adapter.requests) == 2
    adapter = scripted(api.session, [Reply(200, no_id)] * 3)
    with pytest.raises(ApiError, match="malformed members record"):
        list(api.iter_members("L1", fields=["id", "status"]))
    assert len(adapter.requests) == 3
