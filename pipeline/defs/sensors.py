"""Sensors: a plain alert in the logs when any run fails.

The alert names the job, the run id and the steps that failed, and nothing else: error texts
can quote data, and emails and keys never go into logs. Details are one click away in the UI.
"""

import dagster as dg


def failure_alert(job_name: str, run_id: str, failed_steps: list[str]) -> str:
    steps = ", ".join(failed_steps) or "none (the run failed outside any step)"
    return f"ALERT: run {run_id} of job {job_name} failed; failed steps: {steps}"


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Logs a plain alert (job, run id, failed steps) whenever a run fails.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    context.log.error(
        failure_alert(context.dagster_run.job_name, context.dagster_run.run_id, steps)
    )


sensors = [run_failure_alert]
