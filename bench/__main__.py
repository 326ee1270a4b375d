"""`make bench`: store generation time and peak memory, ingest throughput, transform time.

    python -m bench [--sizes 100000 1000000] [--ingest-customers 100000] [--data-dir data/bench]
                    [--feature-copies 10] [--source-warehouse data/warehouse.duckdb]

Each generation runs in a fresh process so its peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.features import measure_features
from bench.ingest import EVENT_DAYS, measure_ingest


def measure_generation(customers: int, data_dir: Path) -> tuple[float, float]:
    """Seconds and peak resident MiB to generate a store of `customers` (two years)."""
    shutil.rmtree(data_dir / "stores", ignore_errors=True)
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sandbox", "generate", "--customers", str(customers),
         "--data-dir", str(data_dir)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mib


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--ingest-customers", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, default=Path("data/bench"))
    parser.add_argument("--feature-copies", type=int, default=10)
    parser.add_argument("--source-warehouse", type=Path, default=Path("data/warehouse.duckdb"))
    parser.add_argument(
        "--only", choices=["generation", "ingest", "transform"], help="run one part only"
    )
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "generation"):
        _generation(args)
    if args.only in (None, "ingest"):
        _ingest(args)
    if args.only in (None, "transform"):
        measure_features(args.source_warehouse, args.data_dir, args.feature_copies)
    return 0


def _generation(args: argparse.Namespace) -> None:
    print(f"{'customers':>10} {'generate s':>11} {'peak MiB':>9} {'store MiB':>10}")
    for size in args.sizes:
        seconds, peak = measure_generation(size, args.data_dir)
        store_mib = sum(p.stat().st_size for p in (args.data_dir / "stores").iterdir()) / 2**20
        print(f"{size:>10} {seconds:>11.1f} {peak:>9.0f} {store_mib:>10.0f}", flush=True)


def _ingest(args: argparse.Namespace) -> None:
    print(f"\ningest, {args.ingest_customers} customers (events: last {EVENT_DAYS} days)")
    print(f"{'table':<28} {'records':>9} {'fetch rec/s':>12} {'load rows/s':>12}")
    for table, records, fetch_rate, load_rate in measure_ingest(
        args.ingest_customers, args.data_dir
    ):
        print(f"{table:<28} {records:>9} {fetch_rate:>12.0f} {load_rate:>12.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
