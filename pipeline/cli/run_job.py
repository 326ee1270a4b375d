"""Run a job from the command line (`make demo`, `make import-csv`, `make erase`), recorded in
the Dagster instance like any other run (an ephemeral one without `DAGSTER_HOME`), and say
plainly why it failed when it does."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg


def execute_job(
    defs: dg.Definitions,
    job: str,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """One in-process run of the job; a failed step is in the result, not raised."""
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    return defs.resolve_job_def(job).execute_in_process(
        run_config=run_config,
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=tags,
        raise_on_error=False,
    )


def materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Each materialized asset's metadata as plain values, by asset key ("ml/customer_scores")."""
    metadata = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata[materialization.asset_key.to_user_string()] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return metadata


def step_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """The failed steps' own messages (the step error wraps the code's exception)."""
    messages = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            while error.cause is not None:
                error = error.cause
            messages.append(error.message.strip())
    return messages


def run_job_once(defs: dg.Definitions, job: str, op: str, config: dict, verb: str) -> dict | None:
    """The metadata of the job's first materialization, or None after printing
    "<verb> failed: <the step's own message>"."""
    result = execute_job(defs, job, run_config={"ops": {op: {"config": config}}})
    if not result.success:
        for message in step_failures(result):
            print(f"{verb} failed: {message}")
        return None
    [metadata, *_] = materialization_metadata(result).values()
    return metadata
