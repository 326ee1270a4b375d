"""`python -m bench.stages`: every stage of a shop's life, at each size, in one table.

    BENCH_SIZES=10000,100000 python -m bench.stages [--data-dir data/bench/stages]
    BENCH_DAYS=30 ...  (a shorter history, to try the bench itself quickly; default 730)

Per size (customers, two years of history), in fresh processes with their own warehouse,
Dagster instance and sandbox state: the store's generation, the first load as `make demo` runs
it (first_refresh over the whole history), then "the next day" as `make next-day` runs it
(the sandbox clock one day on, daily_refresh for that day only). Each run's seconds and peak
resident memory (of the process and every child it waited for) are measured from outside; the
seconds of each stage inside a run (ingest, dbt, training, scoring with reasons, segments, each
sync) come from the run's own step timings, and each sync's API calls from its summary. Every
figure sits beside its target. Ingest time includes waiting on the platforms' rate limits.
The 1M size takes hours: it is a benchmark for a quiet machine, never a test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.lib.settings import PROJECT_ROOT

DEFAULT_SIZES = "10000,100000,1000000"
# (stage, size) -> target; a size missing from a stage's targets has none set.
TARGETS: dict[str, dict[int, str]] = {
    "first load (make demo)": {10_000: "<=180 s, <=2 GB"},
    "next day (make next-day)": {
        10_000: "<=20 s, <=8 GB",
        100_000: "<=60 s, <=8 GB",
        1_000_000: "<=300 s, <=8 GB",
    },
    "  dbt features, full": {100_000: "<=120 s", 1_000_000: "<=1200 s"},
    "  training": {100_000: "<=180 s"},
    "  scoring with reasons": {1_000_000: "<=60 s"},
}
PROFILE_WRITES_TARGET = "<=10% of profiles; Mailchimp <=ceil(ops/500) batch calls"
# Step keys of a run -> the stage they belong to (first match wins).
STEP_STAGES = [
    ("klaviyo_sync", "klaviyo sync"),
    ("mailchimp_sync", "mailchimp sync"),
    ("model_runs", "training"),
    ("customer_scores", "scoring with reasons"),
    ("dbt_score_readers", "segments"),
    ("dbt_customer_features", "dbt features, full"),
    ("dbt_", "dbt other models"),
    ("shopify", "ingest (incl. API wait)"),
    ("klaviyo", "ingest (incl. API wait)"),
]
_STEP_DONE = re.compile(r"\] done\s+(\S+) in (\d+)s")
_SYNC = re.compile(
    r"(klaviyo|mailchimp)\s+sync \w+: (\d+) rows planned.*?(\d+) reads, (\d+) writes"
)


@dataclass
class Measured:
    """One process run: wall seconds, peak RSS in MiB, and what its output said."""

    seconds: float
    peak_mib: float
    ok: bool
    stages: dict[str, float] = field(default_factory=dict)
    syncs: dict[str, str] = field(default_factory=dict)


def run_measured(command: list[str], env: dict[str, str], log: Path) -> Measured:
    """Run `command` in a fresh child of a fresh process, so the peak RSS is the command's own
    (or its warm dbt calls', which run outside it and report their peaks to a file)."""
    probe = (
        "import resource, subprocess, sys; "
        "code = subprocess.run(sys.argv[1:]).returncode; "
        "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.exit(code)"
    )
    dbt_peaks = log.with_suffix(".dbt-peaks")
    dbt_peaks.unlink(missing_ok=True)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", probe, *command],
        env={**env, "FORESIGHT_DBT_PEAK_LOG": str(dbt_peaks)},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - began
    log.write_text(done.stdout + done.stderr)
    peak = re.search(r"PEAK_KIB (\d+)", done.stdout)
    peaks_kib = [int(peak[1])] if peak else []
    if dbt_peaks.exists():
        peaks_kib += [int(line) for line in dbt_peaks.read_text().split()]
    peak_mib = max(peaks_kib) / 1024 if peaks_kib else float("nan")
    measured = Measured(seconds, peak_mib, done.returncode == 0)
    for step, took in _STEP_DONE.findall(done.stdout):
        stage = next((name for key, name in STEP_STAGES if key in step), None)
        if stage is not None:
            measured.stages[stage] = measured.stages.get(stage, 0.0) + float(took)
    for platform, planned, reads, writes in _SYNC.findall(done.stdout):
        measured.syncs[platform] = f"{writes} writes, {reads} reads ({planned} rows planned)"
    return measured


def bench_size(customers: int, root: Path, days: int = 730) -> dict[str, Measured]:
    """Generate, first load and next day for one size, each in its own fresh process."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "KLAVIYO_"))}
    env = {k: v for k, v in env.items() if not k.startswith("MAILCHIMP_")}
    env |= {"WAREHOUSE_PATH": str(root / "warehouse.duckdb"), "DAGSTER_HOME": str(root)}
    env |= {"FORESIGHT_DAGSTER_STORAGE": str(root / "dagster")}
    (root / "dagster").mkdir()
    (root / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    store = [
        "--customers",
        str(customers),
        "--days",
        str(days),
        "--data-dir",
        str(root / "sandbox"),
    ]
    demo = [sys.executable, "-m", "pipeline.cli.demo", "--port", str(_free_port()), *store]
    return {
        "generate": run_measured(
            [sys.executable, "-m", "sandbox", "generate", *store], env, root / "generate.log"
        ),
        "first load (make demo)": run_measured(demo, env, root / "first.log"),
        "next day (make next-day)": run_measured([*demo, "--next-day"], env, root / "next.log"),
    }


def print_table(results: dict[int, dict[str, Measured]]) -> None:
    sizes = list(results)
    print(f"\n{'stage':<30}" + "".join(f"{f'{n:,} customers':>34}" for n in sizes))
    for run in ("generate", "first load (make demo)", "next day (make next-day)"):
        print(f"{run:<30}" + "".join(_cell(results[n][run], run, n) for n in sizes))
        stages = sorted({s for n in sizes for s in results[n][run].stages})
        for stage in stages:
            label = f"  {stage}"
            cells = []
            for n in sizes:
                took = results[n][run].stages.get(stage)
                target = TARGETS.get(label, {}).get(n, "")
                cells.append(f"{'-' if took is None else f'{took:.0f} s'} {target:>14}".rjust(34))
            print(f"{label:<30}" + "".join(cells))
        for platform in ("klaviyo", "mailchimp"):
            if any(platform in results[n][run].syncs for n in sizes):
                print(f"  {platform + ' sync calls':<28}" + "".join(
                    results[n][run].syncs.get(platform, "-").rjust(34) for n in sizes
                ))  # fmt: skip
    print(f"\nprofile writes on the next day: target {PROFILE_WRITES_TARGET}")
    print("peak RSS is each run's whole process tree; stage seconds come from the run's steps")


def _cell(measured: Measured, run: str, customers: int) -> str:
    target = TARGETS.get(run, {}).get(customers, "")
    status = "" if measured.ok else " FAILED"
    text = f"{measured.seconds:.0f} s {measured.peak_mib:,.0f} MiB{status} {target}"
    return text.rjust(34)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("data/bench/stages"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", DEFAULT_SIZES).split(",") if s]
    results = {}
    for customers in sizes:
        print(f"benchmarking {customers:,} customers ...", flush=True)
        days = int(os.environ.get("BENCH_DAYS", "730"))
        results[customers] = bench_size(customers, args.data_dir / str(customers), days)
    print_table(results)
    return 0 if all(m.ok for r in results.values() for m in r.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
