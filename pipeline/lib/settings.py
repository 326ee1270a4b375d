"""Embedded defaults shared by Dagster, dbt and the command line tools."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"


def warehouse_path() -> Path:
    """The DuckDB warehouse file as one absolute path (relative values are taken from the repo).

    dbt and Dagster must open the same file: a relative path would create a second warehouse
    wherever a tool happens to run.
    """
    path = Path(os.environ.get("WAREHOUSE_PATH") or DEFAULT_WAREHOUSE)
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def sandbox_data_dir() -> Path:
    """Where the sandbox keeps its generated stores and the platform state clients write."""
    return PROJECT_ROOT / "data" / "sandbox"


def artefacts_dir() -> Path:
    """Where model artefacts and reports go (env `FORESIGHT_ARTEFACTS_DIR`; never committed)."""
    path = Path(os.environ.get("FORESIGHT_ARTEFACTS_DIR") or "artefacts")
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()
