"""Every request the Klaviyo sync sends, validated against Klaviyo's official OpenAPI spec.

A full sync (new profiles by email, properties by id, list creation, adds, removes, a failed
import's errors), a list read and a privacy deletion run against the emulator; each request the
client sent is then checked with openapi-core. The spec lives beside the repository
(`FORESIGHT_SPEC_DIR`, default `../shared/specs`) and is never copied in; without it these
tests skip. The client's rate-limit tiers are checked against the spec's too.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from pipeline.lib.clients.klaviyo import KLAVIYO_TIERS
from pipeline.lib.sync import BlastRadiusPolicy, sync
from tests.lib.clients.sandbox_fixtures import serve
from tests.lib.sync.sync_fixtures import desired_state, harness, new_ledger, store_profiles
from tests.specs import requires_spec

_DEFAULT_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "specs"
SPEC_DIR = Path(os.environ.get("FORESIGHT_SPEC_DIR", _DEFAULT_DIR))
STABLE = SPEC_DIR / "klaviyo-openapi-stable-2026-07-15.json"
SPEC_HOST = "https://a.klaviyo.com"

pytestmark = [
    pytest.mark.integration,
    requires_spec(STABLE),
]


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(STABLE.read_text())


@pytest.fixture(scope="module")
def openapi(spec) -> OpenAPI:
    # Strict spec validation rejects the full file (a oneOf/enum ambiguity upstream).
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


class SpecRequest:
    """openapi-core's Request protocol over a request `requests` sent, as if to Klaviyo."""

    def __init__(self, request: requests.PreparedRequest) -> None:
        url = urlsplit(request.url)
        self.host_url = SPEC_HOST
        self.path = url.path
        self.method = request.method.lower()
        self.body = request.body or None
        self.content_type = request.headers.get("content-type", "").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(url.query, keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


def test_the_client_rate_limits_are_klaviyos(spec):
    for path in spec["paths"].values():
        for operation in path.values():
            if not isinstance(operation, dict) or operation.get("operationId") not in KLAVIYO_TIERS:
                continue
            limits = operation["x-klaviyo-ratelimit"]
            expected = {1.0: limits["burst"], 60.0: limits["steady"]}
            if "daily" in limits:
                expected[86400.0] = limits["daily"]
            expected = {window: int(text.split("/")[0]) for window, text in expected.items()}
            assert KLAVIYO_TIERS[operation["operationId"]] == expected, operation["operationId"]


def test_every_request_of_a_sync_conforms_to_the_spec(openapi, small_store_view, tmp_path):
    profiles = store_profiles(small_store_view)
    desired = desired_state(profiles, with_bad_email=True)
    with serve(small_store_view, tmp_path) as sandbox:
        run = harness(sandbox.url, group_batch_size=200)
        ledger = new_ledger()
        sync(desired, run.destination, ledger)
        # Everyone leaves 'vip': removals.
        desired = [replace(c, segments=c.segments - {"vip"}) for c in desired]
        sync(desired, run.destination, ledger, policy=BlastRadiusPolicy(allow_large_change=True))
        list_id = run.client.find_list(run.destination.list_name("at_risk"))
        assert list(run.client.list_member_ids(list_id))
        run.client.request_deletion(profile_id=profiles[0].profile_id)
        run.client.request_deletion(email=profiles[1].email)
    operations = set()
    for request in run.sent:
        openapi.validate_request(SpecRequest(request))
        # openapi-core does not flag a missing required header parameter; check it ourselves.
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.\w+)?", request.headers["revision"])
        # Consent is never written: no body carries a subscriptions field.
        assert b"subscriptions" not in (request.body or b"")
        operations.add((request.method, _template(urlsplit(request.url).path)))
    assert operations >= {
        ("POST", "/api/profile-bulk-import-jobs"),
        ("GET", "/api/profile-bulk-import-jobs/{id}"),
        ("GET", "/api/profile-bulk-import-jobs/{id}/import-errors"),
        ("GET", "/api/profiles"),
        ("GET", "/api/lists"),
        ("POST", "/api/lists"),
        ("POST", "/api/lists/{id}/relationships/profiles"),
        ("DELETE", "/api/lists/{id}/relationships/profiles"),
        ("GET", "/api/lists/{id}/relationships/profiles"),
        ("POST", "/api/data-privacy-deletion-jobs"),
    }


def _template(path: str) -> str:
    parts = path.split("/")
    return "/".join("{id}" if i == 3 and len(parts) > 3 else p for i, p in enumerate(parts))
