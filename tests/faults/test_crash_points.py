"""The crash matrix, fast version: a crash at every write of a day's sync (before the call, after
it took effect, halfway through a batch) and at every statement of a raw load (mid-page,
mid-transaction), then a re-run. The end state must equal an uninterrupted run's: the same
platform members and properties, the same ledger, the same warehouse rows; at the moment of a
crash the ledger already knows every membership the platform may hold, and nobody who cannot be
marketed to stays on a list."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from tests.faults.crash_harness import (
    MODES,
    Crash,
    CrashingConnection,
    desired_days,
    ledger_state,
    platform_state,
    run_days,
    unmarketable_on_lists,
)

DAYS = desired_days(customers=150, seed=12)
REFERENCE = run_days(list(DAYS))
# Day 2's writes in the uninterrupted run: removals (consent first), properties, adds.
DAY1_WRITES = run_days([DAYS[0]])[0].calls
DAY2_WRITES = REFERENCE[0].calls - DAY1_WRITES
SYNC_POINTS = [(1, n, MODES[n % 3]) for n in range(1, DAY2_WRITES + 1)] + [
    (0, n, MODES[n % 3]) for n in sorted({1, DAY1_WRITES // 2, DAY1_WRITES})
]


@pytest.mark.parametrize(("day", "write", "mode"), SYNC_POINTS)
def test_a_sync_crash_then_a_rerun_equals_an_uninterrupted_run(day, write, mode):
    platform, ledger, seen = run_days(list(DAYS), crash_day=day, crash_at=write, mode=mode)
    reference_platform, reference_ledger, _ = REFERENCE
    assert seen["crashed"] and seen["unknown_members"] == 0
    assert platform_state(platform) == platform_state(reference_platform)
    assert platform.properties == reference_platform.properties
    assert ledger_state(ledger) == ledger_state(reference_ledger)
    assert unmarketable_on_lists(platform, DAYS[1]) == 0


ORDERS = RAW_TABLES["shopify", "orders"]


def orders(count: int, version: int) -> list[dict]:
    return [
        {
            "id": f"gid://shopify/Order/{n}",
            "updatedAt": f"2024-03-0{version}T00:00:00Z",
            "totalPriceSet": {"shopMoney": {"amount": str(n + version), "currencyCode": "EUR"}},
            **({"id": None} if n % 17 == 0 else {}),  # some go to the quarantine
        }
        for n in range(count)
    ]


def warehouse(con) -> tuple:
    return (
        con.execute("select id, record from raw_shopify.orders order by id").fetchall(),
        con.execute(
            "select _quarantine_key, reason from raw_shopify.orders_quarantine order by all"
        ).fetchall(),
    )


def reference_warehouse() -> tuple:
    with duckdb.connect() as con:
        load_records(con, ORDERS, orders(60, 1), "r1", batch_size=20)
        load_records(con, ORDERS, orders(60, 2), "r2", batch_size=20)
        return warehouse(con)


LOAD_REFERENCE = reference_warehouse()


LOAD_POINTS = range(1, 25, 2)
PAGE_POINTS = (1, 19, 20, 41)


def test_the_matrix_has_enough_crash_points():
    assert len(SYNC_POINTS) + len(LOAD_POINTS) + len(PAGE_POINTS) >= 20


@pytest.mark.parametrize("statement", LOAD_POINTS)
def test_a_load_crash_mid_transaction_then_a_rerun_loses_and_duplicates_nothing(statement):
    with duckdb.connect() as con:
        load_records(con, ORDERS, orders(60, 1), "r1", batch_size=20)
        with pytest.raises(Crash):
            load_records(
                CrashingConnection(con, statement), ORDERS, orders(60, 2), "r2", batch_size=20
            )
        load_records(con, ORDERS, orders(60, 2), "r2", batch_size=20)
        assert warehouse(con) == LOAD_REFERENCE


@pytest.mark.parametrize("after", PAGE_POINTS)
def test_a_crash_mid_page_then_a_rerun_loses_and_duplicates_nothing(after):
    def dying_source():
        for number, record in enumerate(orders(60, 2)):
            if number == after:
                raise Crash("mid-page")
            yield record

    with duckdb.connect() as con:
        load_records(con, ORDERS, orders(60, 1), "r1", batch_size=20)
        with pytest.raises(Crash):
            load_records(con, ORDERS, dying_source(), "r2", batch_size=20)
        load_records(con, ORDERS, orders(60, 2), "r2", batch_size=20)
        assert warehouse(con) == LOAD_REFERENCE
