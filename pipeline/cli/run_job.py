"""Run one job once from the command line (`make import-csv`, `make erase`), recorded in the
Dagster instance like any other run, and say plainly why it failed when it does."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg


def run_job_once(defs: dg.Definitions, job: str, op: str, config: dict, verb: str) -> dict | None:
    """The metadata of the job's first materialization, or None after printing
    "<verb> failed: <the step's own message>"."""
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    result = defs.resolve_job_def(job).execute_in_process(
        run_config={"ops": {op: {"config": config}}},
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    if not result.success:
        for event in result.all_events:
            if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                error = event.event_specific_data.error
                while error.cause is not None:  # the step error wraps the code's own message
                    error = error.cause
                print(f"{verb} failed: {error.message.strip()}")
        return None
    [event, *_] = result.get_asset_materialization_events()
    metadata: dict[str, Any] = event.event_specific_data.materialization.metadata
    return {key: value.value for key, value in metadata.items()}
