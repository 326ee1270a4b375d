"""The demo says plainly when only the blast-radius check held back a sync, and how to approve."""

from __future__ import annotations

import dagster as dg

from pipeline.cli.blocked_sync import (
    blocked_destinations,
    explain_blocked_sync,
    sync_approval_config,
)

FINDING = "group 'vip' would change by 80 of 300 members (26.7%) with no new activity"
BUILT = {
    "ml/customer_scores": {"rows": 2000},
    "activation/klaviyo_sync": {"status": "blocked", "blast_radius": [FINDING]},
    "activation/mailchimp_sync": {"status": "synced", "blast_radius": []},
}


def test_only_blocked_sync_steps_failing_names_their_destinations():
    assert blocked_destinations(["activation__klaviyo_sync"], BUILT) == ["klaviyo"]
    # Anything else failing too keeps the generic failure.
    assert blocked_destinations(["activation__klaviyo_sync", "ml__customer_scores"], BUILT) == []
    # A sync step that failed for another reason is no block.
    assert blocked_destinations(["activation__mailchimp_sync"], BUILT) == []


def test_the_explanation_names_the_findings_what_to_review_and_how_to_approve():
    text = explain_blocked_sync(["klaviyo"], BUILT, next_day=True)
    assert FINDING in text and "activation/klaviyo_sync" in text
    assert "planned_diff" in text and "make next-day ALLOW_LARGE_CHANGE=1" in text


def test_approval_config_reaches_only_the_selected_syncs():
    selected = [dg.AssetKey(["activation", "mailchimp_sync"]), dg.AssetKey(["marts", "orders"])]
    assert sync_approval_config(selected) == {
        "ops": {"activation__mailchimp_sync": {"config": {"allow_large_change": True}}}
    }
    assert sync_approval_config([dg.AssetKey(["marts", "orders"])]) == {"ops": {}}
