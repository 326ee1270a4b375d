"""The daily schedule, the weekly retrain schedule builder and the run-failure alert evaluate
(Dagster University style: build contexts, call the definitions directly)."""

from datetime import UTC, datetime

import dagster as dg

from pipeline.definitions import defs
from pipeline.defs.jobs import daily_refresh
from pipeline.defs.schedules import daily_refresh_schedule, weekly_retrain_schedule
from pipeline.defs.sensors import run_failure_alert


def test_the_daily_schedule_runs_the_day_that_just_ended():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 10, 5, tzinfo=UTC)
    )
    schedule = defs.resolve_schedule_def(daily_refresh_schedule.name)
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2025-03-09"]
    assert schedule.job_name == "daily_refresh" and schedule.cron_schedule == "0 5 * * *"


def test_the_daily_job_covers_the_whole_graph():
    job = defs.resolve_job_def("daily_refresh")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert {"activation/klaviyo_sync", "activation/mailchimp_sync", "marts/customer_segments",
            "shopify/orders", "klaviyo/events"} <= keys  # fmt: skip
    assert "ml/customer_scores" in keys and "ml/model_runs" not in keys  # trained weekly
    assert "files/orders" not in keys and "activation/erasures" not in keys
    assert daily_refresh.name == "daily_refresh"


def test_a_shops_first_refresh_is_the_daily_job_plus_training():
    keys = {
        name: {
            key.to_user_string()
            for key in defs.resolve_job_def(name).asset_layer.executable_asset_keys
        }
        for name in ("daily_refresh", "first_refresh")
    }
    # The labels are training data: built by the jobs that train, not every day.
    assert keys["first_refresh"] - keys["daily_refresh"] == {
        "ml/model_runs",
        "marts/customer_labels",
    }
    assert keys["daily_refresh"] < keys["first_refresh"]


def test_the_weekly_retrain_schedule_retrains_and_rescores_on_mondays():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 10, 3, tzinfo=UTC)
    )
    assert weekly_retrain_schedule.cron_schedule == "0 3 * * 1"
    assert weekly_retrain_schedule.job_name == "weekly_retrain"
    assert len(list(weekly_retrain_schedule.evaluate_tick(context).run_requests or [])) == 1
    job = defs.resolve_job_def("weekly_retrain")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert keys == {"marts/customer_labels", "ml/model_runs", "ml/customer_scores"}


def test_a_failed_run_logs_a_plain_alert(failed_run, capsys):
    capsys.readouterr()  # the run's own error log; only the alert's output is judged
    run_failure_alert(failed_run.context)
    alerts = [line for line in capsys.readouterr().err.splitlines() if "ALERT" in line]
    assert len(alerts) == 1
    assert f"run {failed_run.result.run_id} of job failing_job failed" in alerts[0]
    assert "failed steps: load_profiles" in alerts[0]
    assert "@" not in alerts[0]
