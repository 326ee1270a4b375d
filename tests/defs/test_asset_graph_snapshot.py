"""The asset graph as a reviewable file: every asset's group, upstream keys and checks, and the
assets each job selects, compared with the committed `snapshots/asset_graph.json`. A change to
the graph (a new model, a moved dependency, a job picking up an asset) is a visible diff.

After an intended change, rewrite the snapshot and commit it with the change:
    FORESIGHT_UPDATE_SNAPSHOTS=1 .venv/bin/pytest -q tests/defs/test_asset_graph_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from pipeline.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
UPDATE = os.environ.get("FORESIGHT_UPDATE_SNAPSHOTS") == "1"


def asset_graph_summary(definitions: dg.Definitions) -> dict:
    """Assets by key (group, upstream keys, check names) and jobs by name (selected keys)."""
    graph = definitions.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
    assets = {
        key.to_user_string(): {
            "group": graph.get(key).group_name,
            "deps": sorted(parent.to_user_string() for parent in graph.get(key).parent_keys),
            "checks": sorted(checks.get(key.to_user_string(), [])),
        }
        for key in sorted(graph.get_all_asset_keys())
    }
    jobs = {
        job.name: sorted(key.to_user_string() for key in job.selection.resolve(graph))
        for job in sorted(definitions.jobs or [], key=lambda job: job.name)
        if hasattr(job, "selection")  # asset jobs; op jobs have no asset selection
    }
    return {"assets": assets, "jobs": jobs}


def test_the_asset_graph_matches_its_snapshot():
    summary = asset_graph_summary(defs)
    assert summary["assets"] and summary["jobs"]
    rendered = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    if UPDATE:
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.exists(), f"no snapshot yet: {__doc__}"
    assert json.loads(SNAPSHOT.read_text()) == summary, (
        "the asset graph changed; if intended, update the snapshot as the module docstring says"
    )
