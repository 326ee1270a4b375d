"""`make chaos`: the long crash matrix, a benchmark rather than a test.

    python -m bench.chaos [--customers 1000] [--seeds 1 2 3] [--load-records 600]

For each seed: every write of a day's sync crashed in each of three ways (before the call,
after it took effect, halfway through the batch) on both days, and every statement of a raw load
crashed mid-transaction; each followed by a re-run and compared with an uninterrupted run
(platform members and properties, ledger, warehouse rows). Then (`bench.chaos_more`) the score
write crashed at every statement, the Mailchimp sync through each kind of platform fault, and
dbt killed mid-model (`--dbt-kills` points, 0 to leave dbt out). Prints one line per fault: how
many times it was injected, in how many runs, how many converged, plus any ledger gap seen at
a crash.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import duckdb

from bench import chaos_more
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
from tests.faults.test_crash_points import orders, warehouse


def sync_matrix(customers: int, seed: int, tally: Counter) -> None:
    days = desired_days(customers, seed)
    reference, reference_ledger, _ = run_days(list(days))
    first_day = run_days([days[0]])[0].calls
    writes = {0: first_day, 1: reference.calls - first_day}
    for day, count in writes.items():
        for write in range(1, count + 1):
            for mode in MODES:
                platform, ledger, seen = run_days(
                    list(days), crash_day=day, crash_at=write, mode=mode
                )
                fault = f"sync day {day + 1} crash {mode} a write"
                tally[fault, "injected"] += 1
                converged = (
                    seen["crashed"]
                    and platform_state(platform) == platform_state(reference)
                    and platform.properties == reference.properties
                    and ledger_state(ledger) == ledger_state(reference_ledger)
                    and unmarketable_on_lists(platform, days[1]) == 0
                )
                tally[fault, "converged"] += converged
                tally[fault, "ledger gaps at crash"] += seen.get("unknown_members", 0)


def load_matrix(records: int, tally: Counter) -> None:
    spec = RAW_TABLES["shopify", "orders"]
    with duckdb.connect() as con:
        load_records(con, spec, orders(records, 1), "r1", batch_size=100)
        load_records(con, spec, orders(records, 2), "r2", batch_size=100)
        reference = warehouse(con)
    statement = 0
    while True:
        statement += 1
        with duckdb.connect() as con:
            load_records(con, spec, orders(records, 1), "r1", batch_size=100)
            try:
                crashing = CrashingConnection(con, statement)
                load_records(crashing, spec, orders(records, 2), "r2", batch_size=100)
                return  # past the last statement: every one has been crashed
            except Crash:
                pass
            load_records(con, spec, orders(records, 2), "r2", batch_size=100)
            tally["raw load crash mid-transaction", "injected"] += 1
            tally["raw load crash mid-transaction", "converged"] += warehouse(con) == reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--load-records", type=int, default=600)
    parser.add_argument("--dbt-kills", type=int, default=len(chaos_more.DBT_KILLS))
    args = parser.parse_args(argv)
    began = time.perf_counter()
    tally: Counter = Counter()
    for seed in args.seeds:
        sync_matrix(args.customers, seed, tally)
    load_matrix(args.load_records, tally)
    chaos_more.run(args.seeds, args.dbt_kills, tally)
    faults = sorted({fault for fault, _ in tally})
    runs = {f: tally[f, "runs"] or tally[f, "injected"] for f in faults}
    print(f"{'fault':45} {'injected':>9} {'runs':>6} {'converged':>10} {'ledger gaps':>12}")
    for fault in faults:
        print(
            f"{fault:45} {tally[fault, 'injected']:>9} {runs[fault]:>6} "
            f"{tally[fault, 'converged']:>10} {tally[fault, 'ledger gaps at crash']:>12}"
        )
    print(f"{time.perf_counter() - began:.0f} s")
    failed = sum(runs[f] - tally[f, "converged"] for f in faults)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
