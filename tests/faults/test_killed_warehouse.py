"""A warehouse file left by a process killed mid-load (kill -9 inside an open transaction)
opens again, holds exactly what was committed before, and a re-run of the load converges to
what an uninterrupted load gives."""

from __future__ import annotations

from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.warehouse import connect
from tests.faults.crash_harness import kill_when_it_prints
from tests.faults.test_crash_points import orders, warehouse

LOADER = """
import sys, time
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.warehouse import connect
from tests.faults.test_crash_points import orders

def slow(records):
    for number, record in enumerate(records):
        if number == 30:
            print("mid-transaction", flush=True)
            time.sleep(300)
        yield record

with connect(sys.argv[1]) as con:
    load_records(con, RAW_TABLES["shopify", "orders"], orders(60, 1), "r1", batch_size=20)
    load_records(con, RAW_TABLES["shopify", "orders"], slow(orders(60, 2)), "r2", batch_size=60)
"""


def test_a_warehouse_killed_mid_load_reopens_and_the_rerun_converges(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    kill_when_it_prints(LOADER, str(path), line="mid-transaction")
    spec = RAW_TABLES["shopify", "orders"]
    with connect(path) as con:
        (kept,) = con.execute("select count(*) from raw_shopify.orders").fetchone()
        (stale,) = con.execute(
            "select count(*) from raw_shopify.orders where _run_id = 'r2'"
        ).fetchone()
        assert (kept, stale) == (len([o for o in orders(60, 1) if o["id"]]), 0)
        load_records(con, spec, orders(60, 2), "r2", batch_size=20)
        rerun = warehouse(con)
    reference = tmp_path / "reference.duckdb"
    with connect(reference) as con:
        load_records(con, spec, orders(60, 1), "r1", batch_size=20)
        load_records(con, spec, orders(60, 2), "r2", batch_size=20)
        assert rerun == warehouse(con)
