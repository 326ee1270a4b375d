"""Alerts reach a person: a failed run, a segment size jump and a promoted model's quality drop
each arrive at a webhook and an SMTP server on 127.0.0.1; a stale sync alerts once."""

from __future__ import annotations

import json
from datetime import datetime

import dagster as dg

from pipeline.defs.ml.checks import promoted_model_quality_holds
from pipeline.defs.resources import WarehouseResource
from pipeline.defs.sensors import check_alert, run_failure_alert, stale_sync_alert
from pipeline.defs.transform.checks import segment_sizes_within_limit
from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.modeling.registry import MODEL_RUNS, ensure_registry
from tests.segment_tables import write_segments


def _check_run(instance, asset_key: list[str], check, warehouse) -> dg.ExecuteInProcessResult:
    @dg.asset(key=asset_key)
    def table() -> None:
        return None

    return dg.materialize(
        [table, check],
        instance=instance,
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
    )


def _sensor_context(instance, result, sensor_name: str) -> dg.RunStatusSensorContext:
    return dg.build_run_status_sensor_context(
        sensor_name=sensor_name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
    )


def test_a_failed_run_alerts_by_webhook_and_email(alert_inbox, failed_run, capsys):
    capsys.readouterr()  # the run's own error log; only the alert's output is judged
    run_failure_alert(failed_run.context)
    (posted,) = alert_inbox.webhook
    assert posted["text"].startswith(f"run {failed_run.result.run_id} of job failing_job failed")
    assert "failed steps: load_profiles" in posted["text"]
    assert len(alert_inbox.emails) == 1
    assert all("jane@example.com" not in text for text in alert_inbox.texts())
    assert "jane@example.com" not in capsys.readouterr().err


def test_a_segment_size_jump_alerts(alert_inbox, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        write_segments(con, vip_before=100, vip_left=60)
    instance = dg.DagsterInstance.ephemeral()
    result = _check_run(
        instance, ["marts", "customer_segments"], segment_sizes_within_limit, warehouse
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    check_alert(_sensor_context(instance, result, "check_alert"))
    (posted,) = alert_inbox.webhook
    assert "check segment_sizes_within_limit on marts/customer_segments" in posted["text"]
    assert "segment vip: 100 -> 45 members (-55%" in posted["text"]
    assert "segment vip: 100 -> 45" in alert_inbox.emails[0]["content"]


def test_steady_segments_send_nothing(alert_inbox, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        write_segments(con, vip_before=100, vip_left=10)
    instance = dg.DagsterInstance.ephemeral()
    result = _check_run(
        instance, ["marts", "customer_segments"], segment_sizes_within_limit, warehouse
    )
    check_alert(_sensor_context(instance, result, "check_alert"))
    assert alert_inbox.texts() == []


def _register(con, version: str, day: int, log_loss: float, champion: bool) -> None:
    con.execute(
        f"insert into {MODEL_RUNS} (model_version, task, trained_at, as_of_date, metrics,"
        " score_source, is_champion, decision) values (?, 'churn', ?, ?, ?, 'lightgbm', ?, 'x')",
        [
            version,
            datetime(2024, 3, day),
            datetime(2024, 3, day).date(),
            json.dumps({"log_loss": log_loss, "roc_auc": 0.8}),
            champion,
        ],
    )


def test_a_promoted_models_quality_drop_alerts(alert_inbox, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        ensure_registry(con)
        _register(con, "20240304-a", 4, 0.40, champion=False)
        _register(con, "20240311-b", 11, 0.48, champion=True)
    instance = dg.DagsterInstance.ephemeral()
    result = _check_run(instance, ["ml", "model_runs"], promoted_model_quality_holds, warehouse)
    check_alert(_sensor_context(instance, result, "check_alert"))
    (posted,) = alert_inbox.webhook
    assert "model churn: log_loss 0.4800 (champion 20240311-b) vs 0.4000" in posted["text"]
    assert len(alert_inbox.emails) == 1


def test_a_stale_sync_alerts_once(alert_inbox, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        dg.AssetMaterialization(dg.AssetKey(["activation", "klaviyo_sync"]))
    )
    context = dg.build_sensor_context(instance=instance)
    stale_sync_alert(context)  # synced just now: within the default 30 hours
    assert alert_inbox.texts() == []
    monkeypatch.setenv("FORESIGHT_ALERT_STALE_SYNC_HOURS", "0")
    stale_sync_alert(context)
    stale_sync_alert(context)  # the same stale sync again: no second alert
    (posted,) = alert_inbox.webhook
    assert "activation/klaviyo_sync: last synced" in posted["text"]
    assert "mailchimp" not in posted["text"]  # never synced: not stale
