"""Schedules: the daily refresh of the whole graph, and the weekly retrain.

The daily schedule runs `daily_refresh` for the day that just ended (UTC) at 05:00, after the
platforms have settled the day's data: ingest → transform → score → segments → sync.
"""

import dagster as dg

from pipeline.defs.jobs import daily_refresh, weekly_retrain

DAILY_HOUR_UTC = 5
WEEKLY_RETRAIN_CRON = "0 3 * * 1"  # Mondays 03:00 UTC, before that day's refresh scores

daily_refresh_schedule = dg.build_schedule_from_partitioned_job(
    daily_refresh,
    name="daily_refresh_schedule",
    hour_of_day=DAILY_HOUR_UTC,
    description="Every day at 05:00 UTC: the daily refresh for the day that just ended.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


weekly_retrain_schedule = dg.ScheduleDefinition(
    name="weekly_retrain_schedule",
    job=weekly_retrain,
    cron_schedule=WEEKLY_RETRAIN_CRON,
    execution_timezone="UTC",
    description="Mondays 03:00 UTC: retrain, evaluate and register the customer models.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

schedules = [daily_refresh_schedule, weekly_retrain_schedule]
