"""Fixtures of the dbt tests: the small store ingested once per session, copied by each test
module that builds on it (ingesting is the slow part; builds differ per module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.defs.ingest_helpers import HISTORY, ingest, sandbox


@pytest.fixture(scope="session")
def raw_warehouse(tmp_path_factory) -> Path:
    """A warehouse holding only the raw tables of the small store's whole history. Read-only
    by convention: copy it before building."""
    root = tmp_path_factory.mktemp("raw")
    warehouse = root / "warehouse.duckdb"
    with sandbox(root / "sandbox") as url:
        assert ingest(url, warehouse, *HISTORY).success
    return warehouse
