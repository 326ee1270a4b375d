"""Behaviour of the Klaviyo emulator: auth, paging, filters, lists, imports, deletion, limits."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from sandbox.klaviyo.query import parse_filter
from sandbox.state import SandboxState
from tests.sandbox.klaviyo_fixtures import (
    HEADERS,
    JSON_API,
    N_EVENTS,
    N_PROFILES,
    NOW,
    FakeClock,
    import_body,
    make_client,
    make_ctx,
    members_body,
    profile_id,
    profile_item,
)


@pytest.fixture
def ctx():
    return make_ctx()


@pytest.fixture
def client(ctx):
    return make_client(ctx)


def walk(client, url, params=None):
    """Follow links.next from the first page; returns every page's data."""
    pages = []
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json()["data"])
        next_url = response.json()["links"].get("next")
        if not next_url:
            return pages
        response = client.get(next_url)


def ids(pages):
    return [item["id"] for page in pages for item in page]


def new_list(client, name="VIP"):
    body = {"data": {"type": "list", "attributes": {"name": name}}}
    response = client.post("/api/lists", json=body, headers=JSON_API)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def run_import(client, body):
    response = client.post("/api/profile-bulk-import-jobs", json=body, headers=JSON_API)
    assert response.status_code == 202, response.text
    return response.json()["data"]


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


# -- lists -------------------------------------------------------------------------------------


def test_list_crud(client):
    list_id = new_list(client, "Winback")
    assert client.get(f"/api/lists/{list_id}").json()["data"]["attributes"]["name"] == "Winback"
    body = {"data": {"type": "list", "id": list_id, "attributes": {"name": "Winback 2"}}}
    assert client.patch(f"/api/lists/{list_id}", json=body).status_code == 200
    assert client.get("/api/lists").json()["data"][0]["attributes"]["name"] == "Winback 2"
    body["data"]["id"] = "OTHER"
    assert client.patch(f"/api/lists/{list_id}", json=body).status_code == 409
    assert client.delete(f"/api/lists/{list_id}").status_code == 204
    assert client.get(f"/api/lists/{list_id}").status_code == 404


def test_lists_page_at_most_10(ctx, client):
    for n in range(12):
        ctx.clock.advance(1.0)  # create_list allows a burst of 10 per second
        new_list(client, f"L{n:02d}")
    pages = walk(client, "/api/lists", {"sort": "name"})
    assert [len(p) for p in pages] == [10, 2]
    assert client.get("/api/lists", params={"page[size]": 11}).status_code == 400


def test_membership_add_is_idempotent_and_keeps_consent(client):
    list_id = new_list(client)
    url = f"/api/lists/{list_id}/relationships/profiles"
    before = client.get(
        f"/api/profiles/{profile_id(1)}", params={"additional-fields[profile]": "subscriptions"}
    ).json()["data"]["attributes"]["subscriptions"]
    members = [profile_id(n) for n in (1, 2, 3)]
    for _ in range(2):
        assert client.post(url, json=members_body(members)).status_code == 204
    assert sorted(ids(walk(client, url, {"page[size]": 2}))) == members
    count = client.get(f"/api/lists/{list_id}", params={"additional-fields[list]": "profile_count"})
    assert count.json()["data"]["attributes"]["profile_count"] == 3
    after = client.get(
        f"/api/profiles/{profile_id(1)}", params={"additional-fields[profile]": "subscriptions"}
    ).json()["data"]["attributes"]["subscriptions"]
    assert after == before
    assert client.request("DELETE", url, json=members_body(members[:2])).status_code == 204
    assert ids(walk(client, url)) == [profile_id(3)]


def test_membership_limits_and_unknown_profiles(client):
    list_id = new_list(client)
    url = f"/api/lists/{list_id}/relationships/profiles"
    too_many = members_body([profile_id(0)] * 1001)
    assert client.post(url, json=too_many).status_code == 400
    assert client.request("DELETE", url, json=too_many).status_code == 400
    response = client.post(url, json=members_body([profile_id(0), "NOPE"]))
    assert response.status_code == 404
    assert ids(walk(client, url)) == []  # nothing applied
    assert (
        client.post("/api/lists/NOPE/relationships/profiles", json=members_body([])).status_code
        == 404
    )


def test_list_profiles_carry_joined_group_at(client):
    list_id = new_list(client)
    client.post(f"/api/lists/{list_id}/relationships/profiles", json=members_body([profile_id(3)]))
    (member,) = client.get(f"/api/lists/{list_id}/profiles").json()["data"]
    assert member["attributes"]["joined_group_at"] == "2024-06-01T00:00:00+00:00"
    flt = 'equals(email,"USER3@example.com")'
    url = f"/api/lists/{list_id}/relationships/profiles"
    assert ids(walk(client, url, {"filter": flt})) == [profile_id(3)]


# -- bulk import -------------------------------------------------------------------------------


def test_import_job_lifecycle_with_per_profile_errors(client):
    list_id = new_list(client)
    profiles = [
        profile_item("user1@example.com", clv=12.5),
        profile_item("new.person@example.com", clv=3.0),
        profile_item("broken-email", clv=1.0),
        profile_item(pid=profile_id(2), segment="vip"),
        profile_item(pid="NOPE", segment="vip"),
    ]
    job = run_import(client, import_body(profiles, list_id))
    assert job["attributes"]["status"] == "queued" and job["attributes"]["total_count"] == 5
    url = f"/api/profile-bulk-import-jobs/{job['id']}"
    statuses = [client.get(url).json()["data"]["attributes"] for _ in range(3)]
    assert [s["status"] for s in statuses] == ["processing", "complete", "complete"]
    assert statuses[-1]["completed_count"] == 3 and statuses[-1]["failed_count"] == 2
    errors = client.get(f"{url}/import-errors").json()["data"]
    assert [e["attributes"]["source"]["pointer"] for e in errors] == [
        "/data/attributes/profiles/data/2",
        "/data/attributes/profiles/data/4",
    ]
    assert errors[0]["attributes"]["original_payload"]["attributes"]["email"] == "broken-email"
    flt = 'equals(email,"new.person@example.com")'
    (created,) = client.get("/api/profiles", params={"filter": flt}).json()["data"]
    assert created["attributes"]["properties"] == {"clv": 3.0}
    members = ids(walk(client, f"/api/lists/{list_id}/relationships/profiles"))
    assert sorted(members) == sorted([profile_id(1), profile_id(2), created["id"]])


def test_import_merges_properties_bumps_updated_and_keeps_consent(client):
    params = {"additional-fields[profile]": "subscriptions"}
    before = client.get(f"/api/profiles/{profile_id(1)}", params=params).json()["data"]
    run_import(client, import_body([profile_item(pid=profile_id(1), a=1, b=1)]))
    run_import(client, import_body([profile_item("USER1@example.com", b=2)]))
    after = client.get(f"/api/profiles/{profile_id(1)}", params=params).json()["data"]
    assert after["attributes"]["properties"] == {"a": 1, "b": 2}
    assert after["attributes"]["updated"] == "2024-06-01T00:00:00+00:00"
    assert after["attributes"]["subscriptions"] == before["attributes"]["subscriptions"]
    flt = "greater-than(updated,2024-05-31T00:00:00Z)"
    assert ids(walk(client, "/api/profiles", {"filter": flt})) == [profile_id(1)]


def test_import_creates_one_profile_per_new_identity(client):
    phone_only = {"type": "profile", "attributes": {"phone_number": "+15559999999"}}
    profiles = [
        profile_item("a@new.example", n=1),
        profile_item("b@new.example", n=2),
        profile_item(" A@new.example", m=3),
        phone_only,
        phone_only,
    ]
    run_import(client, import_body(profiles))
    flt = 'any(email,["a@new.example","b@new.example"])'
    found = client.get("/api/profiles", params={"filter": flt}).json()["data"]
    props = sorted(json.dumps(p["attributes"]["properties"], sort_keys=True) for p in found)
    assert props == ['{"m": 3, "n": 1}', '{"n": 2}']
    flt = 'equals(phone_number,"+15559999999")'
    assert len(client.get("/api/profiles", params={"filter": flt}).json()["data"]) == 1


def test_import_limits(client):
    too_many = import_body([profile_item(f"u{n}@example.com") for n in range(10_001)])
    response = client.post("/api/profile-bulk-import-jobs", json=too_many)
    assert response.status_code == 400
    huge = import_body([profile_item("big@example.com", blob="x" * (5 * 1024 * 1024))])
    assert client.post("/api/profile-bulk-import-jobs", json=huge).status_code == 413
    unknown_list = import_body([profile_item("a@example.com")], list_id="NOPE")
    assert client.post("/api/profile-bulk-import-jobs", json=unknown_list).status_code == 404
    assert client.get("/api/profile-bulk-import-jobs/NOPE").status_code == 404


# -- data privacy ------------------------------------------------------------------------------


def deletion_body(**identifier):
    pid = identifier.pop("id", None)
    profile = {"type": "profile", "attributes": identifier} | ({"id": pid} if pid else {})
    return {
        "data": {
            "type": "data-privacy-deletion-job",
            "attributes": {"profile": {"data": profile}},
        }
    }


def test_deleted_profile_disappears_everywhere(client):
    list_id = new_list(client)
    client.post(f"/api/lists/{list_id}/relationships/profiles", json=members_body([profile_id(3)]))
    response = client.post(
        "/api/data-privacy-deletion-jobs", json=deletion_body(email="user3@example.com")
    )
    assert response.status_code == 202 and response.content == b""
    assert client.get(f"/api/profiles/{profile_id(3)}").status_code == 404
    assert profile_id(3) not in ids(walk(client, "/api/profiles", {"page[size]": 100}))
    flt = f'equals(profile_id,"{profile_id(3)}")'
    assert ids(walk(client, "/api/events", {"filter": flt})) == []
    assert ids(walk(client, f"/api/lists/{list_id}/relationships/profiles")) == []
    response = client.post(
        f"/api/lists/{list_id}/relationships/profiles", json=members_body([profile_id(3)])
    )
    assert response.status_code == 404


def test_deletion_by_id_and_identifier_rules(client):
    response = client.post("/api/data-privacy-deletion-jobs", json=deletion_body(id=profile_id(8)))
    assert response.status_code == 202
    assert client.get(f"/api/profiles/{profile_id(8)}").status_code == 404
    both = deletion_body(id=profile_id(9), email="user9@example.com")
    assert client.post("/api/data-privacy-deletion-jobs", json=both).status_code == 400


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


# -- state -------------------------------------------------------------------------------------


def test_state_writes_from_many_threads():
    state = SandboxState(":memory:")
    list_id = state.create_list("L", None, NOW)["list_id"]

    def add(worker: int) -> None:
        for n in range(25):
            state.add_members(list_id, [f"P{worker}-{n}", "shared"], NOW)
            assert state.profile_tables()["writes"].num_rows == 0

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(add, range(8)))
    assert state.get_list(list_id)["profile_count"] == 8 * 25 + 1
    assert state.summary()["list_members"] == 201


def test_state_survives_a_restart(tmp_path):
    path = tmp_path / "sandbox" / "state.duckdb"
    first = make_ctx(state=SandboxState(path))
    client = make_client(first)
    list_id = new_list(client)
    client.post(f"/api/lists/{list_id}/relationships/profiles", json=members_body([profile_id(0)]))
    job = run_import(client, import_body([profile_item("fresh@example.com", score=0.9)]))
    client.post("/api/data-privacy-deletion-jobs", json=deletion_body(id=profile_id(5)))
    summary = first.state.summary()
    first.state.close()

    second = make_ctx(state=SandboxState(path))
    assert second.state.summary() == summary
    client = make_client(second)
    assert ids(walk(client, f"/api/lists/{list_id}/relationships/profiles")) == [profile_id(0)]
    assert client.get(f"/api/profile-bulk-import-jobs/{job['id']}").status_code == 200
    flt = 'equals(email,"fresh@example.com")'
    (fresh,) = client.get("/api/profiles", params={"filter": flt}).json()["data"]
    assert fresh["attributes"]["properties"] == {"score": 0.9}
    assert client.get(f"/api/profiles/{profile_id(5)}").status_code == 404
    assert summary["lists"] == 1 and summary["deleted_profiles"] == 1
    assert json.dumps(summary)  # the inspection endpoint serves it as JSON
