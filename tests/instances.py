"""A Dagster instance that stores runs as the product does, for tests' runs over many partitions.

Without an instance, `materialize` and `execute_in_process` use Dagster's in-memory storage,
which opens a new SQLite connection for every event it stores: a tenth of a first refresh's
time in the tests. The product's storage (dagster.yaml's, `pipeline.defs.storage`) keeps one
connection per file; each run here gets a new instance in a temporary folder, disposed after,
so runs see no other run's history, as with the in-memory default.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg


def product_storage(base_dir: str) -> dict:
    """Instance overrides: dagster.yaml's storage, keeping its files under `base_dir`."""
    storage = {"module": "pipeline.defs.storage", "class": "SqliteStorageWritingBatches",
               "config": {"base_dir": base_dir}}  # fmt: skip
    return {"storage": {"custom": storage}}


@contextmanager
def product_storage_instance() -> Iterator[dg.DagsterInstance]:
    with (
        tempfile.TemporaryDirectory(prefix="dagster-") as folder,
        dg.DagsterInstance.local_temp(folder, overrides=product_storage(folder)) as instance,
    ):
        yield instance
