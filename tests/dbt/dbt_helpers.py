"""Running dbt from tests the way Dagster runs it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pipeline.defs.transform.dbt import warehouse_target_path
from pipeline.lib.settings import PROJECT_ROOT
from pipeline.lib.warm_dbt.client import dbt_executable

DBT_DIR = PROJECT_ROOT / "dbt_project"
# Warnings a build may give: segment size warnings, since a small store has small segments.
ALLOWED_WARNINGS = ("test.foresight.segments_meet_min_size_",)
# Unit tests check model logic on fixtures, whatever the warehouse holds: the first build runs
# them (as `make test` does once), later builds in the same session need not.
NO_UNIT_TESTS = ("--exclude", "resource_type:unit_test")


def dbt_cli(
    warehouse: Path,
    work: Path,
    command: str,
    *args: str,
    project_dir: Path = DBT_DIR,
    executable: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """(command line, environment) of `dbt <command>` on `warehouse` as Dagster runs it: the
    warehouse's own target folder, as Dagster's steps use (so a later call on the same warehouse
    parses only what changed), and the call's own log folder; warm dbt unless `executable`."""
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    cli = [
        executable or dbt_executable(),
        command,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target-path", str(warehouse_target_path(warehouse)),
        "--log-path", str(work / "logs"),
        *args,
    ]  # fmt: skip
    return cli, env


def dbt(
    warehouse: Path,
    work: Path,
    command: str,
    *args: str,
    project_dir: Path = DBT_DIR,
    expect_success: bool = True,
) -> list[dict]:
    """`dbt <command>` on `warehouse` (see `dbt_cli`), as a subprocess the way Dagster runs it
    (dbt-duckdb keeps its database open in the process that ran it). Returns the run results
    (of a failed run too, when not `expect_success`)."""
    cli, env = dbt_cli(warehouse, work, command, *args, project_dir=project_dir)
    done = subprocess.run(cli, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0 or not expect_success, (
        f"dbt exited {done.returncode}\n{done.stderr[-3000:]}\n{done.stdout[-5000:]}"
    )
    run_results = warehouse_target_path(warehouse) / "run_results.json"
    return json.loads(run_results.read_text())["results"]


def dbt_build(warehouse: Path, work: Path, *args: str, project_dir: Path = DBT_DIR) -> list[dict]:
    return dbt(warehouse, work, "build", *args, project_dir=project_dir)


def unexpected_statuses(results: list[dict]) -> list[tuple[str, str]]:
    """(node, status) of every result that is neither a success nor an allowed warning."""
    return [
        (result["unique_id"], result["status"])
        for result in results
        if result["status"] not in {"success", "pass"}
        and not (result["status"] == "warn" and result["unique_id"].startswith(ALLOWED_WARNINGS))
        # exposures document who reads the marts; dbt has nothing to build for them
        and not (result["status"] == "no-op" and result["unique_id"].startswith("exposure."))
    ]
