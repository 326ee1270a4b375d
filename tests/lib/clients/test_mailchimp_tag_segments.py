"""MailchimpClient's tags as static segments: found or created once (names match
case-insensitively), members added and removed in batches of up to 500, and lookups that read
once and survive a create whose answer was lost."""

from __future__ import annotations

import json

import pytest

from pipeline.lib.clients.http import RequestRejectedError
from pipeline.lib.clients.mailchimp_segments import SegmentBatch
from tests.lib.clients.mailchimp_client_fixtures import client
from tests.lib.clients.sandbox_fixtures import Reply, scripted, serve


@pytest.mark.integration
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
