"""Build the dbt project on a warehouse file, the way Dagster runs it: a subprocess.

Shared by the dbt tests and the tests of what reads the marts (the ML assets): the small sandbox
store ingested by the project's own assets, then `dbt build`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline.lib.settings import PROJECT_ROOT
from tests.defs.ingest_helpers import HISTORY, ingest, sandbox

DBT_DIR = PROJECT_ROOT / "dbt_project"


def dbt_build(warehouse: Path, work: Path, *args: str) -> list[dict]:
    """`dbt build` on `warehouse`, as a subprocess the way Dagster runs it (dbt-duckdb keeps its
    database open in the process that ran it). Its own target and log folders: the project's
    `target/` holds the manifest Dagster loads. Returns the run results."""
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    command = [
        str(Path(sys.executable).parent / "dbt"),
        "build",
        "--project-dir", str(DBT_DIR),
        "--profiles-dir", str(DBT_DIR),
        "--target-path", str(work / "target"),
        "--log-path", str(work / "logs"),
        *args,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    return json.loads((work / "target" / "run_results.json").read_text())["results"]


def built_small_store(root: Path) -> Path:
    """A warehouse under `root` holding the small store's whole history, ingested and built
    (models and data tests; unit tests are the dbt tests' business)."""
    warehouse = root / "warehouse.duckdb"
    with sandbox(root / "sandbox") as url:
        assert ingest(url, warehouse, *HISTORY).success
    dbt_build(warehouse, root / "dbt", "--exclude", "resource_type:unit_test")
    return warehouse
