"""The run-job helper the command-line entry points share: a failed step is reported by its own
message (not a stack trace), and a successful run yields its materialization metadata.

No `from __future__ import annotations`: Dagster reads the config class from the annotation."""

import dagster as dg

from pipeline.cli.run_job import run_job_once


class Rows(dg.Config):
    rows: int


@dg.asset
def counted(config: Rows) -> dg.MaterializeResult:
    if config.rows < 0:
        raise ValueError(f"rows must be positive, got {config.rows}")
    return dg.MaterializeResult(metadata={"rows": config.rows})


DEFS = dg.Definitions(assets=[counted], jobs=[dg.define_asset_job("count", selection=[counted])])


def test_a_successful_run_returns_its_metadata(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert run_job_once(DEFS, "count", "counted", {"rows": 3}, "count") == {"rows": 3}


def test_a_failed_step_prints_its_own_message(monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert run_job_once(DEFS, "count", "counted", {"rows": -1}, "count") is None
    assert (
        capsys.readouterr().out.strip() == "count failed: ValueError: rows must be positive, got -1"
    )
