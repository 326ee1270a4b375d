"""Every request the Mailchimp sync sends (merge-field creates, member PUTs, tag POSTs, member
reads), and the erasure's permanent member deletions, validate against the Mailchimp Marketing
API spec; skipped without the spec dir."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest

from pipeline.lib.erasure import MailchimpAudience, erase
from pipeline.lib.erasure_keys import normalise_email
from pipeline.lib.erasure_request import ErasureRequest
from pipeline.lib.sync import SyncLedger, sync
from tests.lib.clients.sandbox_fixtures import serve
from tests.lib.sync.sync_fixtures import store_profiles
from tests.lib.sync.test_mailchimp_sync import Harness, desired_state
from tests.sandbox.test_mailchimp_spec import SPEC, conforms, openapi  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SPEC.exists(), reason=f"Mailchimp OpenAPI spec not found at {SPEC}"),
]


def test_every_sync_request_matches_the_spec(openapi, small_store_view, tmp_path):  # noqa: F811
    with serve(small_store_view, tmp_path) as sandbox:
        run = Harness(sandbox.url)
        audience = set(run.members())
        profiles = [p for p in store_profiles(small_store_view) if p.email]
        profiles = [p for p in profiles if run.client.subscriber_hash(p.email) in audience][:40]
        ledger = SyncLedger(duckdb.connect(":memory:"), "mailchimp")
        desired = desired_state(profiles)
        sync(desired, run.destination, ledger)
        # A second run that removes tags (everyone leaves every segment).
        sync([replace(c, segments=frozenset()) for c in desired], run.destination, ledger)
        exchanges = run.responses
    kinds = {(r.request.method, r.request.path_url.rsplit("/", 1)[-1]) for r in exchanges}
    assert {("POST", "tags"), ("POST", "merge-fields")} <= kinds
    assert any(method == "PUT" for method, _ in kinds)
    for response in exchanges:
        conforms(openapi, response)


def test_erasure_deletions_match_the_spec(openapi, small_store_view, tmp_path):  # noqa: F811
    with serve(small_store_view, tmp_path) as sandbox:
        run = Harness(sandbox.url)
        audience = set(run.members())
        [member, *_] = [
            email
            for p in store_profiles(small_store_view)
            if (email := normalise_email(p.email)) and run.client.subscriber_hash(email) in audience
        ]
        mailchimp = MailchimpAudience(run.client)
        with duckdb.connect() as con:
            for email in (member, "never.a.member@example.com"):
                request = ErasureRequest(emails=(email,))
                erase(con, request, klaviyo=None, mailchimp=mailchimp, run_id="r", salt="spec")
        exchanges = [r for r in run.responses if r.request.method == "POST"]
    assert [(r.request.path_url.rsplit("/", 2)[-2:], r.status_code) for r in exchanges] == [
        (["actions", "delete-permanent"], 204),
        (["actions", "delete-permanent"], 404),
    ]
    for response in exchanges:
        conforms(openapi, response)
