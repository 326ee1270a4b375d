"""Fixtures of the Dagster wiring tests."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import pytest


@dataclass
class FailedRun:
    """A run that failed, and the context the run-failure sensor gets for it."""

    result: dg.ExecuteInProcessResult
    context: dg.RunFailureSensorContext


@pytest.fixture
def failed_run() -> FailedRun:
    """A job whose one step, `load_profiles`, fails with an error that names a customer's email
    (which no alert may repeat)."""

    @dg.op
    def load_profiles():
        raise RuntimeError("customer jane@example.com broke it")

    @dg.job
    def failing_job():
        load_profiles()

    instance = dg.DagsterInstance.ephemeral()
    result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()
    return FailedRun(result, context)
