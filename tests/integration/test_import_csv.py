"""`make import-csv`'s program: one run, a readable outcome, a clear refusal of a bad file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def _import(tmp_path, *args):
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp_path / "w.duckdb")}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli.import_csv", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_day_first_export_imports_and_reimports_without_duplicates(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("customer_id,ordered_at,total\nc1,05/01/2024,20.5\nc2,17/02/2024,oops\n")
    first = _import(tmp_path, str(path), "--date-format", "%d/%m/%Y")
    assert first.returncode == 0, first.stderr
    assert "2 rows read, 1 loaded (1 new, 0 changed), 1 quarantined" in first.stdout
    again = _import(tmp_path, str(path), "--date-format", "%d/%m/%Y")
    assert "1 loaded (0 new, 0 changed)" in again.stdout


def test_a_missing_file_is_refused_with_its_name(tmp_path):
    done = _import(tmp_path, str(tmp_path / "nope.csv"))
    assert done.returncode == 1
    assert "Order CSV not found" in done.stdout
