"""When a demo day failed only because the blast-radius check held back a sync, say so plainly.

The day's data, scores and segments were built (only what follows the syncs, such as the daily
report, waits for them); what is left is a person's decision: review the blocked change, then
approve it. The demo clock does not move on (the run failed), so the same day re-runs: its
other steps change nothing, and the approved sync sends the change. Grain: one explanation per
run, naming each blocked destination and its findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

SYNC_ASSETS = {
    "klaviyo": dg.AssetKey(["activation", "klaviyo_sync"]),
    "mailchimp": dg.AssetKey(["activation", "mailchimp_sync"]),
}


def sync_approval_config(selected: Iterable[dg.AssetKey]) -> dict:
    """Run config approving a large change in every sync asset among the `selected` assets."""
    keys = sorted(set(selected) & set(SYNC_ASSETS.values()), key=str)
    approve = {"config": {"allow_large_change": True}}
    return {"ops": {key.to_python_identifier(): approve for key in keys}}


def failed_step_keys(runs: Iterable[dg.ExecuteInProcessResult]) -> list[str]:
    """The keys of every failed step of `runs`."""
    return [
        event.step_key
        for run in runs
        for event in run.all_events
        if event.event_type == dg.DagsterEventType.STEP_FAILURE
    ]


def blocked_destinations(
    failed_steps: Iterable[str], built: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The destinations whose sync was blocked, when those are the run's only failed steps
    (`built`: materialization metadata by asset key); empty when anything else failed (then
    the generic failure stands)."""
    blocked = [
        destination
        for destination, key in SYNC_ASSETS.items()
        if built.get(key.to_user_string(), {}).get("status") == "blocked"
    ]
    blocked_steps = {SYNC_ASSETS[d].to_python_identifier() for d in blocked}
    failed = set(failed_steps)
    if not blocked or not failed <= blocked_steps:
        return []
    return blocked


def explain_blocked_sync(
    blocked: list[str], built: Mapping[str, Mapping[str, Any]], next_day: bool
) -> str:
    """What happened, what to review and how to approve, for the demo's user."""
    lines = [
        "Only the sync was held back: the blast-radius check found list moves of people with "
        "no new activity of their own, a sign of a model or threshold change to review before "
        "anyone is emailed. The day's data, scores and segments were built; what follows the "
        "syncs waits for them."
    ]
    for destination in blocked:
        counts = built[SYNC_ASSETS[destination].to_user_string()]
        lines.append(f"  {destination}: " + "; ".join(counts.get("blast_radius") or []))
    again = "make next-day" if next_day else "make demo"
    lines += [
        "Review: the planned diff (counts per segment, sample customer ids) is in the metadata "
        "of " + ", ".join(SYNC_ASSETS[d].to_user_string() for d in blocked) + " (`make dev`, "
        "then the asset's latest materialization, 'planned_diff').",
        f"Approve: `{again} ALLOW_LARGE_CHANGE=1` re-runs this day with `allow_large_change: "
        "true` on the syncs (the demo clock stays on this day until a run succeeds).",
    ]
    return "\n".join(lines)
