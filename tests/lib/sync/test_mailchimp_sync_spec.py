"""Every request the Mailchimp sync sends (merge-field creates, member PUTs in batch
operations, member reads, tag
segment reads and creates, batch tag adds and removals, per-member tag POSTs), every answer it
gets, and the erasure's permanent member deletions, validate against the Mailchimp Marketing
API spec; skipped without the spec dir."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest

from pipeline.lib.erasure.keys import normalise_email
from pipeline.lib.erasure.request import ErasureRequest
from pipeline.lib.erasure.run import MailchimpAudience, erase
from pipeline.lib.sync import SyncLedger, sync
from tests.lib.clients.sandbox_fixtures import serve
from tests.lib.sync.mailchimp_sync_fixtures import Harness, desired_state
from tests.lib.sync.sync_fixtures import store_profiles
from tests.sandbox.test_mailchimp_spec import SPEC, conforms, openapi  # noqa: F401 (fixture)
from tests.specs import requires_spec

pytestmark = [
    pytest.mark.integration,
    requires_spec(SPEC),
]


def test_every_sync_request_matches_the_spec(openapi, small_store_view, tmp_path):  # noqa: F811
    with serve(small_store_view, tmp_path) as sandbox:
        run = Harness(sandbox.url)
        audience = set(run.members())
        profiles = [p for p in store_profiles(small_store_view) if p.email]
        profiles = [p for p in profiles if run.client.subscriber_hash(p.email) in audience][:40]
        ledger = SyncLedger(duckdb.connect(":memory:"), "mailchimp")
        desired = desired_state(profiles)
        # Someone tagged by hand before the first run: Mailchimp ignores that add, so the sync
        # reads the member back.
        hand_tagged = run.client.subscriber_hash(desired[0].email)
        list_id = run.destination.list_id
        run.client.set_member_tags(list_id, hand_tagged, active=[run.destination.tag_name("vip")])
        run.responses.clear()
        sync(desired, run.destination, ledger)
        # A second run that removes tags: everyone leaves every segment, and one customer
        # leaves the warehouse (known by subscriber hash alone: a per-member tags call).
        sync([replace(c, segments=frozenset()) for c in desired[1:]], run.destination, ledger)
        # Over 500 emails to one side of a batch: Mailchimp's 400 problem, also per the spec.
        segment = run.client.find_tag_segment(list_id, run.destination.tag_name("vip"))
        too_many = [f"n{n}@example.com" for n in range(501)]
        path = f"{run.client.api_url}/lists/{list_id}/segments/{segment}"
        refused = run.client.session.http.post(
            path, json={"members_to_add": too_many}, auth=("anystring", "sandbox-key")
        )
        exchanges = [r for r in run.responses if "/3.0/" in r.url]  # not the results download
    assert refused.status_code == 400 and refused.json()["title"] == "Invalid Resource"
    kinds = {(r.request.method, _endpoint(r.request.path_url)) for r in exchanges}
    assert {
        ("POST", "merge-fields"),
        ("POST", "batches"),
        ("GET", "batch"),
        ("GET", "member"),
        ("GET", "segments"),
        ("POST", "segments"),
        ("POST", "segment"),
        ("POST", "tags"),
    } <= kinds
    for response in exchanges:
        conforms(openapi, response)


def _endpoint(path_url: str) -> str:
    """The last named part of a path: `segment` and `member` for an id after those."""
    parts = path_url.split("?")[0].split("/")
    if parts[-2] in ("segments", "members", "batches"):
        return parts[-2].removesuffix("es" if parts[-2] == "batches" else "s")
    return parts[-1]


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
