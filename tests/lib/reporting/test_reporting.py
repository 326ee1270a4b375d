"""The model-run comparison table and the daily report page, on small hand-made tables."""

from __future__ import annotations

import duckdb

from pipeline.lib.reporting.daily_report import build_daily_report
from pipeline.lib.reporting.model_runs import comparison, markdown_table
from tests.segment_tables import write_segments


def test_a_task_compares_model_baselines_and_the_previous_champion_rounded():
    row = {"metrics": {"roc_auc": 0.8270431636092324, "log_loss": 0.41234567},
           "baselines": {"rf_logistic": {"roc_auc": 0.71, "log_loss": 0.5}}}  # fmt: skip
    previous = {"model_version": "20240304-ab", "metrics": {"roc_auc": 0.8, "log_loss": 0.43}}
    metrics, records = comparison(row, previous)
    assert metrics == ["log_loss", "roc_auc"]
    assert [r["contender"] for r in records] == [
        "model (this run)", "baseline: rf_logistic",
        "previous champion 20240304-ab (own test window)"]  # fmt: skip
    assert records[0]["roc_auc"] == 0.827 and records[0]["log_loss"] == 0.4123
    table = markdown_table(metrics, records, "promoted: beats every baseline")
    assert "| model (this run) | 0.4123 | 0.827 |" in table
    assert table.endswith("**Decision:** promoted: beats every baseline")


def test_without_a_previous_champion_the_table_has_model_and_baselines():
    row = {"metrics": {"accuracy": 0.5, "gini": float("nan"), "coverage": {"p10": 0.1}},
           "baselines": {"top_category": {"accuracy": 0.4}}}  # fmt: skip
    _, records = comparison(row, None)
    assert len(records) == 2
    assert records[0]["gini"] is None and records[0]["coverage"] == '{"p10": 0.1}'


def test_the_daily_report_shows_segments_and_says_what_is_not_built_yet(tmp_path):
    con = duckdb.connect()
    write_segments(con, vip_before=100, vip_left=60)
    path, as_of = build_daily_report(con, tmp_path)
    page = path.read_text()
    assert path.name == f"daily-{as_of}.html"
    assert "<td>vip</td><td>45</td><td>1</td><td>5</td><td>60</td><td>-55</td>" in page
    assert 'src="data:image/png;base64,' in page  # the sizes plot
    assert page.count("Not available yet") == 4  # KPIs, lift, scores, syncs: no tables here
    again, _ = build_daily_report(con, tmp_path)
    assert again == path and len(list(tmp_path.iterdir())) == 1
