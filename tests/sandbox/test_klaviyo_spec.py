"""The Klaviyo emulator against Klaviyo's official OpenAPI spec (revision 2026-07-15).

Every response type the emulator serves, and the requests these tests send, are validated with
openapi-core. The spec lives beside the repository (`FORESIGHT_SPEC_DIR`, default
`../shared/specs`), never inside it; without it these tests skip.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from sandbox.klaviyo.api import OPERATIONS
from sandbox.klaviyo.ratelimit import TIERS
from tests.sandbox.klaviyo_fixtures import (
    JSON_API,
    REVISION,
    FakeClock,
    import_body,
    make_client,
    make_ctx,
    members_body,
    profile_id,
    profile_item,
)
from tests.specs import requires_spec

_DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
SPEC_DIR = Path(os.environ.get("FORESIGHT_SPEC_DIR", _DEFAULT_DIR))
STABLE = SPEC_DIR / f"klaviyo-openapi-stable-{REVISION}.json"

pytestmark = requires_spec(STABLE)


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(STABLE.read_text())


@pytest.fixture(scope="module")
def openapi(spec) -> OpenAPI:
    patched = copy.deepcopy(spec)
    # The spec names only https://a.klaviyo.com; the emulator answers on the test client's host.
    patched["servers"].append({"url": "http://testserver"})
    # Spec quirk: in OAS 3.0 `nullable` beside `oneOf` has no effect, so the coordinates cannot
    # be null, yet Klaviyo serves `"latitude": null`. Let the string branch accept null.
    location = patched["components"]["schemas"]["ProfileLocation"]["properties"]
    for coordinate in ("latitude", "longitude"):
        location[coordinate]["oneOf"][0]["nullable"] = True
    # Strict spec validation rejects the full file (a oneOf/enum ambiguity upstream).
    return OpenAPI.from_dict(patched, config=Config(spec_validator_cls=None))


class SpecRequest:
    """openapi-core's Request protocol over the httpx request a TestClient sent."""

    def __init__(self, request: httpx.Request) -> None:
        url = request.url
        self.host_url = f"{url.scheme}://{url.netloc.decode()}"
        self.path = url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(url.query.decode(), keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class SpecResponse:
    """openapi-core's Response protocol over an httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "").lower()
        self.headers = Headers(dict(response.headers))
        self.data = response.content


def conforms(openapi: OpenAPI, response: httpx.Response, *, request_too: bool = True):
    """Validate the response (and, unless it was sent invalid on purpose, the request)."""
    request = SpecRequest(response.request)
    if request_too:
        openapi.validate_request(request)
        # openapi-core does not flag a missing required header parameter; check it ourselves.
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.\w+)?", response.request.headers["revision"])
    openapi.validate_response(request, SpecResponse(response))
    return response


def _limit(text: str) -> int:
    return int(text.split("/")[0])


def test_every_operation_matches_the_spec(spec):
    for path, methods in OPERATIONS.items():
        for method, (operation_id, _) in methods.items():
            operation = spec["paths"][path][method.lower()]
            assert operation["operationId"] == operation_id
            limits = operation["x-klaviyo-ratelimit"]
            expected = (_limit(limits["burst"]), _limit(limits["steady"]))
            daily = _limit(limits["daily"]) if "daily" in limits else None
            assert TIERS[operation_id] == (*expected, daily), operation_id
            revision = [p for p in operation["parameters"] if p.get("name") == "revision"]
            assert revision and revision[0]["required"] and revision[0]["in"] == "header"


@pytest.fixture
def ctx():
    return make_ctx()


@pytest.fixture
def client(ctx):
    return make_client(ctx)


def test_profile_responses(openapi, client, ctx):
    list_id = ctx.state.create_list("VIP", "single_opt_in", ctx.view.now)["list_id"]
    ctx.state.add_members(list_id, [profile_id(4)], ctx.view.now)
    subs = {"additional-fields[profile]": "subscriptions"}
    first = conforms(openapi, client.get("/api/profiles", params={**subs, "page[size]": 5}))
    second = conforms(openapi, client.get(first.json()["links"]["next"]))
    conforms(openapi, client.get(second.json()["links"]["prev"]))
    params = {"filter": "greater-than(updated,2024-01-01T00:00:00Z)", "sort": "-updated"}
    conforms(openapi, client.get("/api/profiles", params=params | {"fields[profile]": "email"}))
    conforms(openapi, client.get("/api/profiles", params={"include": "push-tokens"}))
    single = client.get(f"/api/profiles/{profile_id(4)}", params={**subs, "include": "lists"})
    assert conforms(openapi, single).json()["included"][0]["id"] == list_id


def test_event_and_metric_responses(openapi, client):
    params = {"include": "metric,profile", "page[size]": 25, "sort": "-datetime"}
    page = conforms(openapi, client.get("/api/events", params=params))
    conforms(openapi, client.get(page.json()["links"]["next"]))
    flt = 'greater-or-equal(datetime,2024-01-02T00:00:00+00:00),equals(metric_id,"MET009")'
    conforms(openapi, client.get("/api/events", params={"filter": flt, "fields[event]": "uuid"}))
    conforms(openapi, client.get("/api/metrics"))
    conforms(openapi, client.get("/api/metrics/MET000", params={"fields[metric]": "name"}))


def test_list_responses(openapi, client):
    body = {"data": {"type": "list", "attributes": {"name": "Lapsing"}}}
    created = conforms(openapi, client.post("/api/lists", json=body, headers=JSON_API))
    list_id = created.json()["data"]["id"]
    count = {"additional-fields[list]": "profile_count"}
    conforms(openapi, client.get(f"/api/lists/{list_id}", params=count))
    patch = {"data": {"type": "list", "id": list_id, "attributes": {"name": "Lapsed"}}}
    conforms(openapi, client.patch(f"/api/lists/{list_id}", json=patch, headers=JSON_API))
    conforms(openapi, client.get("/api/lists", params={"sort": "-created"}))
    url = f"/api/lists/{list_id}/relationships/profiles"
    members = members_body([profile_id(1), profile_id(2)])
    conforms(openapi, client.post(url, json=members, headers=JSON_API))
    conforms(openapi, client.get(url, params={"page[size]": 1}))
    subs = {"additional-fields[profile]": "subscriptions"}
    conforms(openapi, client.get(f"/api/lists/{list_id}/profiles", params=subs))
    conforms(openapi, client.request("DELETE", url, json=members, headers=JSON_API))
    conforms(openapi, client.delete(f"/api/lists/{list_id}"))


def test_import_and_deletion_responses(openapi, client):
    list_id = client.post(
        "/api/lists", json={"data": {"type": "list", "attributes": {"name": "Import"}}}
    ).json()["data"]["id"]
    profiles = [profile_item("user1@example.com", clv=1.5), profile_item("bad-email", clv=2.0)]
    body = import_body(profiles, list_id)
    job = conforms(
        openapi, client.post("/api/profile-bulk-import-jobs", json=body, headers=JSON_API)
    )
    url = f"/api/profile-bulk-import-jobs/{job.json()['data']['id']}"
    for _ in range(2):
        conforms(openapi, client.get(url, params={"include": "lists"}))
    errors = conforms(openapi, client.get(f"{url}/import-errors"))
    assert len(errors.json()["data"]) == 1
    deletion = {
        "data": {
            "type": "data-privacy-deletion-job",
            "attributes": {
                "profile": {"data": {"type": "profile", "id": profile_id(1), "attributes": {}}}
            },
        }
    }
    response = client.post("/api/data-privacy-deletion-jobs", json=deletion, headers=JSON_API)
    assert conforms(openapi, response).status_code == 202


def test_error_documents(openapi, ctx):
    client = make_client(ctx)
    unauthenticated = client.get("/api/profiles", headers={"Authorization": ""})
    assert conforms(openapi, unauthenticated, request_too=False).status_code == 401
    missing_revision = client.get("/api/profiles", headers={"revision": ""})
    assert conforms(openapi, missing_revision, request_too=False).status_code == 400
    bad_filter = client.get("/api/profiles", params={"filter": "equals(email,x"})
    assert conforms(openapi, bad_filter).status_code == 400
    assert conforms(openapi, client.get("/api/profiles/NOPE")).status_code == 404
    big = import_body([profile_item("a@example.com", blob="x" * (5 * 1024 * 1024))])
    too_large = client.post("/api/profile-bulk-import-jobs", json=big, headers=JSON_API)
    assert conforms(openapi, too_large).status_code == 413


def test_throttled_document(openapi):
    client = make_client(make_ctx(clock=FakeClock()))
    responses = [client.get("/api/metrics") for _ in range(11)]
    assert [r.status_code for r in responses] == [200] * 10 + [429]
    conforms(openapi, responses[-1])
