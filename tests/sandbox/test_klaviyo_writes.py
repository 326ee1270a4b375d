"""The Klaviyo emulator's writes: lists and memberships, bulk profile imports, data-privacy
deletion, and the sandbox state that keeps them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox.state import SandboxState
from tests.sandbox.klaviyo_fixtures import (
    NOW,
    ids,
    import_body,
    make_client,
    make_ctx,
    members_body,
    new_list,
    profile_id,
    profile_item,
    run_import,
    walk,
)


@pytest.fixture
def ctx():
    return make_ctx()


@pytest.fixture
def client(ctx):
    return make_client(ctx)


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
