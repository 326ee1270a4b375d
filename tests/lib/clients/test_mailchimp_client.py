"""MailchimpClient against the Mailchimp emulator on loopback, over the session's small store."""

from __future__ import annotations

import base64
import io
import json
import tarfile

import pytest

from pipeline.lib.clients.http import ApiError, RejectedCredentialsError, RequestRejectedError
from pipeline.lib.clients.mailchimp import (
    MailchimpClient,
    MemberUpsert,
    base_url_for_key,
    subscriber_hash,
)
from pipeline.lib.clients.mailchimp_segments import SegmentBatch
from tests.lib.clients.sandbox_fixtures import FAULTS, Reply, quiet_session, scripted, serve

pytestmark = pytest.mark.integration
FIELDS = [
    {"tag": "CHURN", "name": "Churn probability", "type": "number"},
    {"tag": "CHURNTIER", "name": "Churn tier", "type": "text"},
]


def client(url: str, key: str = "sandbox-key", **kwargs) -> MailchimpClient:
    return MailchimpClient(url, key, quiet_session("Mailchimp", "MAILCHIMP_API_KEY", **kwargs))


@pytest.fixture(scope="module")
def sandbox(small_store_view, tmp_path_factory):
    with serve(small_store_view, tmp_path_factory.mktemp("bulk")) as running:
        yield running


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


def test_new_members_are_never_subscribed():
    with pytest.raises(ValueError, match="never subscribes"):
        MemberUpsert("a@example.com", {}, status_if_new="subscribed")


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


def test_upserts_take_one_batch_call_per_500_members(sandbox, audience):
    api = client(f"{sandbox.url}/3.0")
    emails = [f"batch{n}@example.com" for n in range(501)]
    outcomes = api.upsert_members(audience["id"], [MemberUpsert(e) for e in emails])
    assert api.write_calls == 2
    assert all(o.ok and o.status == "transactional" for o in outcomes)
    again = api.upsert_members(audience["id"], [MemberUpsert(emails[0])])
    assert again[0].ok and api.write_calls == 3


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


def test_tags_go_in_batches_through_their_static_segment(small_store_view, tmp_path):
    with serve(small_store_view, tmp_path) as running:
        api = client(f"{running.url}/3.0")
        list_id = api.find_audience()["id"]
        subscribed = [
            m["email_address"]
            for m in api.iter_members(list_id, fields=["email_address"], status="subscribed")
        ][:3]
        segment = api.find_or_create_tag_segment(list_id, "Foresight: vip")
        reads = api.session.stats.requests - api.write_calls
        assert api.find_or_create_tag_segment(list_id, "FORESIGHT: VIP") == segment
        assert api.session.stats.requests - api.write_calls == reads  # answered from the cache
        add = [subscribed[0], subscribed[1].upper(), "nobody@example.com", "bad@@example"]
        result = api.batch_segment_members(list_id, segment, add=add, remove=[])
        assert result.added == {subscribed[0], subscribed[1]}
        assert result.removed == set() and set(result.errors) == {"bad@@example"}
        assert "@" not in result.errors["bad@@example"]
        tagged = {
            m["email_address"]
            for m in api.iter_members(list_id, fields=["email_address", "tags"])
            if any(t["id"] == segment for t in m["tags"])
        }
        assert tagged == {subscribed[0], subscribed[1]}
        result = api.batch_segment_members(list_id, segment, add=[], remove=[subscribed[0]])
        assert result.removed == {subscribed[0]} and result.added == set()
        assert api.batch_segment_members(list_id, segment, add=[], remove=[]) == SegmentBatch()
        with pytest.raises(ValueError, match="at most 500"):
            api.batch_segment_members(list_id, segment, add=["a@example.com"] * 501, remove=[])
        assert api.write_calls == 3  # one create, two batches; the empty one sent nothing
        # A tag someone made after the cache was read is found, not created twice.
        api.set_tags(list_id, subscribed[2], active=["Made by hand"])
        assert api.find_tag_segment(list_id, "Never made") is None
        by_hand = api.find_or_create_tag_segment(list_id, "made by hand")
        assert by_hand == api.find_tag_segment(list_id, "Made by hand") != segment


def test_segment_lookups_read_once_and_survive_a_lost_create():
    api = client("https://us5.api.mailchimp.com", key="abc-us5")
    problem = {"type": "t", "title": "Invalid Resource", "status": 400, "detail": "d"}
    segments = [{"id": 11, "name": "VIP"}]
    adapter = scripted(
        api.session,
        [
            Reply(200, {"segments": segments, "total_items": 1}),
            Reply(503, b""),  # the create reached Mailchimp, its answer did not
            Reply(400, problem),  # so the retry finds the name taken
            Reply(200, {"segments": [*segments, {"id": 12, "name": "Lapsed"}], "total_items": 2}),
            Reply(404, {**problem, "title": "Resource Not Found", "status": 404}),
            Reply(200, {"segments": segments, "total_items": 1}),
        ],
    )
    assert api.find_or_create_tag_segment("L1", "vip") == 11
    assert api.find_or_create_tag_segment("L1", "Lapsed") == 12
    assert api.find_or_create_tag_segment("L1", "LAPSED") == 12  # no request
    with pytest.raises(RequestRejectedError, match="HTTP 404"):
        api.batch_segment_members("L1", 12, add=["a@example.com"], remove=[])
    assert api.find_tag_segment("L1", "Lapsed") is None  # deleted in Mailchimp: read afresh
    sent = [(r.method, r.path_url) for r in adapter.requests]
    read = "/3.0/lists/L1/segments?type=static&fields=segments.id%2Csegments.name%2Ctotal_items"
    read += "&count=1000&offset=0"
    assert sent == [
        ("GET", read),
        ("POST", "/3.0/lists/L1/segments"),
        ("POST", "/3.0/lists/L1/segments"),
        ("GET", read),
        ("POST", "/3.0/lists/L1/segments/12"),
        ("GET", read),
    ]
    assert json.loads(adapter.requests[1].body) == {"name": "Lapsed", "static_segment": []}
    assert api.write_calls == 2  # the create (whatever its retries) and the batch


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
