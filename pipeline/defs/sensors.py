"""Sensors that tell a person: a failed run, a check that needs a look, a sync that stopped.

Alerts go through the notifier (`pipeline.lib.alerts.notifier`: a Slack-compatible webhook
and/or SMTP email, configured by env) and are logged too. They name jobs, run ids, steps,
checks, segments and numbers, and nothing else: error texts can quote data, and emails and
keys never go into alerts or logs. Details are one click away in the UI.
"""

import json
import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipeline.lib.alerts.notifier import Alert, deliver
from pipeline.lib.alerts.rules import stale_syncs

# Failed checks that alert a person (other failing checks show in the UI only: a warn-level
# dbt test on a small segment would otherwise mail someone every day).
ALERTING_CHECKS = {
    "segment_sizes_within_limit",
    "promoted_model_quality_holds",
    "score_shift_within_limit",
    "sync_succeeded",
}
SYNCS = [dg.AssetKey(["activation", "klaviyo_sync"]), dg.AssetKey(["activation", "mailchimp_sync"])]
STALE_SYNC_HOURS_ENV = "FORESIGHT_ALERT_STALE_SYNC_HOURS"
DEFAULT_STALE_SYNC_HOURS = 30  # the daily refresh plus its slack, as the marts' freshness


def failure_alert(job_name: str, run_id: str, failed_steps: list[str]) -> str:
    steps = ", ".join(failed_steps) or "none (the run failed outside any step)"
    return f"ALERT: run {run_id} of job {job_name} failed; failed steps: {steps}"


def failed_check_findings(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """One line per failed alerting check of the run: the check, its asset, its findings."""
    lines = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.passed or evaluation.check_name not in ALERTING_CHECKS:
            continue
        metadata = {key: value.value for key, value in evaluation.metadata.items()}
        findings = metadata.get("findings") or ", ".join(
            f"{key}={value:.3f}" if isinstance(value, float) else f"{key}={value}"
            for key, value in metadata.items()
            if isinstance(value, int | float)
        )
        lines.append(
            f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()}: {findings}"
        )
    return lines


def _send(context, alert: Alert, logged: bool = False) -> None:
    if not logged:
        context.log.warning("ALERT: " + alert.text().replace("\n", "; "))
    for delivery in deliver(alert):
        outcome = "delivered" if delivery.delivered else f"not delivered ({delivery.detail})"
        context.log.info(f"alert {outcome} by {delivery.channel}")


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Alerts (webhook / email, and the log) whenever a run fails: job, run id, "
    "failed steps and failed checks.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    context.log.error(failure_alert(run.job_name, run.run_id, steps))
    lines = [f"failed steps: {', '.join(steps) or 'none (the run failed outside any step)'}"]
    _send(
        context,
        Alert(
            f"run {run.run_id} of job {run.job_name} failed",
            lines + failed_check_findings(context.instance, run.run_id),
        ),
        logged=True,
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="check_alert",
    description="Alerts when a run succeeded but a check that watches segments, models, score "
    "drift or syncs failed (a segment size jump, a promoted model's quality drop, PSI drift).",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def check_alert(context: dg.RunStatusSensorContext) -> None:
    run = context.dagster_run
    findings = failed_check_findings(context.instance, run.run_id)
    if findings:
        _send(context, Alert(f"run {run.run_id} of job {run.job_name} needs a look", findings))


@dg.sensor(
    name="stale_sync_alert",
    description="Alerts once when a platform sync has not completed for longer than "
    f"{STALE_SYNC_HOURS_ENV} hours (default {DEFAULT_STALE_SYNC_HOURS}).",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def stale_sync_alert(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    max_age = timedelta(hours=float(os.environ.get(STALE_SYNC_HOURS_ENV, "") or
                                     DEFAULT_STALE_SYNC_HOURS))  # fmt: skip
    last = {}
    for key in SYNCS:
        event = context.instance.get_latest_materialization_event(key)
        last[key.to_user_string()] = (
            datetime.fromtimestamp(event.timestamp, UTC).replace(tzinfo=None) if event else None
        )
    # One alert per stale sync: remember the last sync each alert was about.
    alerted = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now(UTC).replace(tzinfo=None)
    new = {name: when for name, when in last.items() if alerted.get(name) != str(when)}
    findings = stale_syncs(new, now, max_age)
    if not findings:
        return dg.SkipReason("every sync is recent (or already alerted on)")
    _send(context, Alert("a sync has stopped", findings))
    stale = {name for name in new if any(line.startswith(f"{name}:") for line in findings)}
    context.update_cursor(json.dumps({**alerted, **{n: str(last[n]) for n in stale}}))
    return dg.SkipReason(f"alerted: {len(findings)} stale sync(s)")


sensors = [run_failure_alert, check_alert, stale_sync_alert]
