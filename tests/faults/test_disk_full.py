"""A disk that fills up during a load (simulated: the write fails as DuckDB reports ENOSPC)
stops with a message saying what to do, keeps the batches committed before, and the next run
converges to what an uninterrupted load gives."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.lib.ingest.raw_load import WarehouseFullError, load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from tests.faults.test_crash_points import LOAD_REFERENCE, orders, warehouse

ORDERS = RAW_TABLES["shopify", "orders"]


class FullDisk:
    """A connection whose `fail_at`-th statement fails as a full disk makes DuckDB fail."""

    def __init__(self, con: duckdb.DuckDBPyConnection, fail_at: int) -> None:
        self._con, self._fail_at, self._count = con, fail_at, 0

    def execute(self, *args, **kwargs):
        self._count += 1
        if self._count == self._fail_at:
            raise duckdb.IOException("IO Error: Could not write file: No space left on device")
        return self._con.execute(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


@pytest.mark.parametrize("fail_at", [3, 12])
def test_a_full_disk_says_what_to_do_and_the_next_run_converges(fail_at):
    with duckdb.connect() as con:
        load_records(con, ORDERS, orders(60, 1), "r1", batch_size=20)
        with pytest.raises(WarehouseFullError, match="Free some space, then run again"):
            load_records(FullDisk(con, fail_at), ORDERS, orders(60, 2), "r2", batch_size=20)
        load_records(con, ORDERS, orders(60, 2), "r2", batch_size=20)
        assert warehouse(con) == LOAD_REFERENCE
