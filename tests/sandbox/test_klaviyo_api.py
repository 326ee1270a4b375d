"""The Klaviyo emulator's reads: headers and auth, profiles, metrics and events, rate limits."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sandbox.klaviyo.query import parse_filter
from tests.sandbox.klaviyo_fixtures import (
    HEADERS,
    N_EVENTS,
    N_PROFILES,
    NOW,
    FakeClock,
    ids,
    make_client,
    make_ctx,
    profile_id,
    walk,
)


@pytest.fixture
def ctx():
    return make_ctx()


@pytest.fixture
def client(ctx):
    return make_client(ctx)


# -- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (None, 401, "not_authenticated"),
        ("Klaviyo-API-Key wrong", 401, "authentication_failed"),
        ("Bearer sandbox-key", 403, "not_authenticated"),
    ],
)
def test_bad_credentials_get_klaviyo_error_documents(ctx, authorization, status, code):
    client = make_client(ctx)
    headers = {"revision": HEADERS["revision"]}
    if authorization:
        headers["Authorization"] = authorization
    client.headers.pop("Authorization")
    response = client.get("/api/profiles", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/vnd.api+json"
    (error,) = response.json()["errors"]
    assert error["code"] == code and error["status"] == status
    assert {"id", "title", "detail", "source"} <= set(error)


@pytest.mark.parametrize("revision", [None, "yesterday", "2024-13-45"])
def test_revision_is_required_and_must_be_a_date(client, revision):
    client.headers.pop("revision")
    headers = {"revision": revision} if revision else {}
    response = client.get("/api/metrics", headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "revision"}


def test_revision_with_suffix_and_trailing_slash_are_accepted(client):
    assert client.get("/api/metrics/", headers={"revision": "2026-07-15.pre"}).status_code == 200


def test_unknown_parameters_methods_and_media_types_are_rejected(client):
    assert client.get("/api/metrics", params={"page[size]": 5}).status_code == 400
    assert client.put("/api/lists").status_code == 405
    response = client.post("/api/lists", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


# -- profiles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["id", "-updated", "email", "created"])
def test_profile_pages_have_no_gaps_or_duplicates(client, sort):
    pages = walk(client, "/api/profiles", {"page[size]": 7, "sort": sort})
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
    assert sorted(ids(pages)) == sorted(profile_id(n) for n in range(N_PROFILES))
    if sort == "-updated":
        stamps = [p["attributes"]["updated"] for page in pages for p in page]
        assert stamps == sorted(stamps, reverse=True)


def test_prev_link_returns_the_previous_page(client):
    first = client.get("/api/profiles", params={"page[size]": 5}).json()
    second = client.get(first["links"]["next"]).json()
    assert "prev" not in first["links"]
    back = client.get(second["links"]["prev"]).json()
    assert [p["id"] for p in back["data"]] == [p["id"] for p in first["data"]]


def test_page_size_defaults_to_20_and_is_capped(client):
    assert len(client.get("/api/profiles").json()["data"]) == 20
    assert client.get("/api/profiles", params={"page[size]": 101}).status_code == 400
    assert client.get("/api/profiles", params={"page[cursor]": "garbage!"}).status_code == 400


def test_updated_filters_are_strict_bounds(client):
    updated_5 = (NOW - timedelta(days=55) + timedelta(hours=5)).isoformat() + "Z"
    updated_9 = (NOW - timedelta(days=51) + timedelta(hours=9)).isoformat() + "+00:00"
    flt = f"greater-than(updated,{updated_5}),less-than(updated,{updated_9})"
    data = client.get("/api/profiles", params={"filter": flt}).json()["data"]
    assert [p["id"] for p in data] == [profile_id(n) for n in (6, 7, 8)]


def test_email_filters_ignore_case_and_whitespace(client):
    flt = 'equals(email,"user3@example.com")'
    (profile,) = client.get("/api/profiles", params={"filter": flt}).json()["data"]
    assert profile["attributes"]["email"] == "  User3@Example.COM "  # served as stored
    flt = f'any(id,["{profile_id(1)}","{profile_id(2)}"])'
    assert len(client.get("/api/profiles", params={"filter": flt}).json()["data"]) == 2


@pytest.mark.parametrize(
    "flt",
    [
        "greater-than(email,2024-01-01T00:00:00Z)",  # operator not allowed for the field
        "equals(email,user1@example.com)",  # strings must be quoted
        'contains(email,"x")',  # operator not supported here
        "equals(nope,'x')",  # unknown field
        "greater-than(updated,2024-01-01",  # unbalanced
    ],
)
def test_invalid_filters_are_400(client, flt):
    response = client.get("/api/profiles", params={"filter": flt})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "filter"}


def test_filter_parser_handles_and_lists_and_spaced_offsets():
    conds = parse_filter(
        "and(equals(a,'x'),any(b,[1, 2])),greater-than(c,2024-01-01T00:00:00 00:00)"
    )
    assert [(c.op, c.field) for c in conds] == [
        ("equals", "a"),
        ("any", "b"),
        ("greater-than", "c"),
    ]
    assert conds[1].value == [1, 2] and conds[2].value == datetime(2024, 1, 1)


def test_subscriptions_additional_field(client):
    params = {"additional-fields[profile]": "subscriptions", "page[size]": 10}
    data = client.get("/api/profiles", params=params).json()["data"]
    by_id = {p["id"]: p["attributes"]["subscriptions"]["email"]["marketing"] for p in data}
    assert by_id[profile_id(0)]["can_receive_email_marketing"] is True
    assert by_id[profile_id(1)]["consent"] == "UNSUBSCRIBED"
    suppressed = by_id[profile_id(4)]
    assert suppressed["suppression"][0]["reason"] == "HARD_BOUNCE"
    assert suppressed["can_receive_email_marketing"] is False
    assert suppressed["list_suppressions"] == []
    assert "subscriptions" not in client.get("/api/profiles").json()["data"][0]["attributes"]


def test_sparse_fieldsets_keep_only_named_attributes(client):
    params = {
        "fields[profile]": "email,subscriptions.email.marketing.consent",
        "additional-fields[profile]": "subscriptions",
    }
    attributes = client.get("/api/profiles", params=params).json()["data"][0]["attributes"]
    assert attributes == {
        "email": "user0@example.com",
        "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}},
    }


def test_single_profile_and_404(client):
    assert client.get(f"/api/profiles/{profile_id(2)}").json()["data"]["id"] == profile_id(2)
    response = client.get("/api/profiles/NOPE")
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "not_found"


# -- metrics and events ------------------------------------------------------------------------


def test_metrics_list_filter_and_get(client):
    assert len(client.get("/api/metrics").json()["data"]) == 10
    flt = 'equals(integration.name,"Shopify")'
    data = client.get("/api/metrics", params={"filter": flt}).json()["data"]
    assert [m["attributes"]["name"] for m in data] == [
        "Viewed Product",
        "Added to Cart",
        "Started Checkout",
        "Placed Order",
    ]
    metric = client.get("/api/metrics/MET009").json()["data"]
    assert metric["attributes"]["integration"]["category"] == "eCommerce"
    assert client.get("/api/metrics/NOPE").status_code == 404


@pytest.mark.parametrize("sort", ["datetime", "-datetime", "-timestamp"])
def test_event_pages_follow_the_stable_order(client, sort):
    pages = walk(client, "/api/events", {"page[size]": 7, "sort": sort})
    expected = [f"EV{n:05d}" for n in range(N_EVENTS)]
    assert ids(pages) == (expected if sort == "datetime" else expected[::-1])


def test_event_attributes_and_relationships(client):
    data = client.get("/api/events", params={"page[size]": 10}).json()["data"]
    order = data[9]  # EV00009: Placed Order, offset 0 minutes, value 19
    assert order["attributes"]["event_properties"] == {"ProductID": 9, "$value": 19.0}
    assert order["attributes"]["datetime"] == "2024-01-02T00:00:00+00:00"
    assert order["attributes"]["timestamp"] == 1704153600  # 2024-01-02T00:00:00Z
    shifted = data[1]  # EV00001, offset -300
    assert shifted["attributes"]["datetime"] == "2023-12-31T19:00:00-05:00"
    assert "$value" not in shifted["attributes"]["event_properties"]
    assert shifted["relationships"]["metric"]["data"] == {"type": "metric", "id": "MET001"}
    assert shifted["relationships"]["profile"]["data"]["id"] == profile_id(1)


def test_event_datetime_filters_and_boundaries(client):
    t = "2024-01-02T00:00:00Z"  # EV00008 and EV00009 happen exactly then
    gt = ids(walk(client, "/api/events", {"filter": f"greater-than(datetime,{t})"}))
    ge = ids(walk(client, "/api/events", {"filter": f"greater-or-equal(datetime,{t})"}))
    assert ge[:2] == ["EV00008", "EV00009"] and gt == ge[2:]
    lt = ids(walk(client, "/api/events", {"filter": f"less-than(timestamp,{1704153600})"}))
    assert lt == [f"EV{n:05d}" for n in range(8)]
    flt = f'greater-than(datetime,2024-01-01T00:00:00Z),equals(profile_id,"{profile_id(2)}")'
    assert ids(walk(client, "/api/events", {"filter": flt})) == ["EV00002", "EV00032"]


def test_event_include_metric_and_profile(client):
    params = {"include": "metric,profile", "page[size]": 12}
    body = client.get("/api/events", params=params).json()
    included = [(r["type"], r["id"]) for r in body["included"]]
    assert len(included) == len(set(included))
    assert {i for t, i in included if t == "metric"} == {f"MET{n:03d}" for n in range(10)}
    assert {i for t, i in included if t == "profile"} == {profile_id(n) for n in range(12)}


def test_event_page_size_bounds(client):
    assert len(client.get("/api/events").json()["data"]) == N_EVENTS  # default 200
    assert client.get("/api/events", params={"page[size]": 1001}).status_code == 400


# -- rate limits -------------------------------------------------------------------------------


def test_burst_limit_answers_429_with_retry_after():
    clock = FakeClock()
    client = make_client(make_ctx(clock=clock))
    for n in range(10):  # get_metrics: 10/s burst, 150/m steady
        response = client.get("/api/metrics")
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "150"
        assert response.headers["RateLimit-Remaining"] == str(149 - n)
    throttled = client.get("/api/metrics")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert "RateLimit-Limit" not in throttled.headers  # Klaviyo sends only Retry-After on a 429
    assert throttled.json()["errors"][0]["code"] == "throttled"
    assert client.get("/api/lists").status_code == 200  # buckets are per operation
    clock.advance(0.1)
    assert client.get("/api/metrics").status_code == 200


def test_steady_limit_and_scale():
    clock = FakeClock()
    client = make_client(make_ctx(clock=clock, scale=0.1))  # get_metrics: 1/s, 15/m
    statuses = []
    for _ in range(30):
        # 1.5 s apart the burst bucket is always full; the steady one drains 0.625 per call.
        clock.advance(1.5)
        response = client.get("/api/metrics")
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses == [200] * 23 + [429]
    assert response.headers["Retry-After"] == "2"  # 0.625 tokens short at 0.25 tokens/s
    clock.advance(1.0)
    assert client.get("/api/metrics").status_code == 429
    clock.advance(1.0)
    assert client.get("/api/metrics").status_code == 200
