"""`make demo`: start the sandbox shop, run the daily job end to end against it (ingest, dbt,
scoring, segments, the syncs to the sandbox Klaviyo and Mailchimp), summarise.

`--platforms shopify,mailchimp` (make demo PLATFORMS=…) names the platforms the sandbox plays,
default all three; the others are left unconfigured, as in a shop without them, whatever `.env`
holds. Extra arguments go to `python -m sandbox serve` (e.g. `--customers 50000 --faults
429=0.1`). The sandbox runs as its own process on 127.0.0.1, as a real platform is its own
service, and stops at the end whatever happens. The first demo backfills the whole history in one
pass (each partitioned stage one range run, see `staged_run`), as `first_refresh`, which also
trains the first models before scoring; later demos run `daily_refresh`, re-pull it and must
leave the warehouse unchanged. `--next-day` (`make next-day`) moves the sandbox clock one day
past the last demo's and runs `daily_refresh` for that one new day. Steps print as they run;
dbt's log goes to `demo-run-output.log` in the artefacts folder. When the blast-radius check
held back a sync and nothing else failed, the summary says what to review;
`--allow-large-change` (`ALLOW_LARGE_CHANGE=1`) re-runs the day with the change approved.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import requests

from pipeline.cli.blocked_sync import (
    blocked_destinations,
    explain_blocked_sync,
    failed_step_keys,
    sync_approval_config,
)
from pipeline.cli.demo_clock import DemoClockError, record_clock, sandbox_clock_args
from pipeline.cli.progress import printed_progress
from pipeline.cli.run_job import materialization_metadata
from pipeline.cli.staged_run import CombinedResult, run_in_stages
from pipeline.defs.partitions import HISTORY_START, partition_range_tags
from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.settings import artefacts_dir, warehouse_path
from pipeline.lib.signals import stop_ignoring_interrupts
from sandbox.process import DEFAULT_PLATFORMS, parse_platforms, running_sandbox, use_sandbox_for


def models_registered() -> bool:
    """True once the warehouse's model registry holds a training run."""
    if not warehouse_path().exists():
        return False
    with connect(warehouse_path(), read_only=True) as con:
        (found,) = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'ml' and table_name = 'model_runs'"
        ).fetchone()
        return bool(found) and con.execute("select count(*) from ml.model_runs").fetchone()[0] > 0


def run_daily_refresh(
    job: str, first: date, last: date, approve_large_change: bool = False
) -> CombinedResult:
    """The daily job over the partitions [first, last], recorded in the instance: one run for
    one day; for a range, its partitioned stages as range runs and the rest once (see
    `staged_run`), so a first load does not record every check for every day.
    `approve_large_change` sets `allow_large_change` on the syncs (after a reviewed block)."""
    from pipeline.definitions import defs  # after the environment points at the platforms

    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    else:
        instance = dg.DagsterInstance.ephemeral()
    tags = partition_range_tags(first.isoformat(), last.isoformat())

    def execute(job_def, keys, run_tags, label):
        run_id = str(uuid.uuid4())
        if label:
            print(f"  {label}", flush=True)
        # The printed progress names the steps; Dagster's own log stays for the UI.
        run_config: dict = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        if approve_large_change:
            run_config |= sync_approval_config(keys or job_def.asset_layer.executable_asset_keys)
        with printed_progress(instance, run_id, other_output=run_output_log()):
            return job_def.execute_in_process(
                instance=instance,
                run_id=run_id,
                asset_selection=keys,
                tags=run_tags,
                run_config=run_config,
                raise_on_error=False,
            )

    job_def = defs.resolve_job_def(job)
    if first == last:
        return CombinedResult([execute(job_def, None, tags, "")])
    return CombinedResult(run_in_stages(job_def, tags, execute))


def run_output_log() -> Path:
    """Where the runs' other standard output goes (dbt's log): the terminal shows progress."""
    return artefacts_dir() / "demo-run-output.log"


def warehouse_counts() -> dict[str, int]:
    """Rows per raw table (with its quarantine) and per mart now in the warehouse."""
    with connect(warehouse_path(), read_only=True) as con:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema like 'raw_%' or table_schema = 'marts' order by 1"
        ).fetchall()
        return {
            name: con.execute(f"select count(*) from {name}").fetchall()[0][0] for (name,) in tables
        }


def print_platforms(played: list[str], built: dict[str, dict], rows: dict[str, int]) -> None:
    """Which platforms the sandbox played, and what each contributed to the run; and the
    imported order CSVs (`make import-csv`), a source of orders too."""
    print(f"  platforms     {', '.join(played) or 'none'} served by the sandbox; "
          f"{', '.join(p for p in DEFAULT_PLATFORMS if p not in played) or 'none'} "
          "left unconfigured")  # fmt: skip
    for platform in DEFAULT_PLATFORMS:
        ingested = {
            asset.split("/", 1)[1]: counts["loaded"]
            for asset, counts in built.items()
            if asset.startswith(f"{platform}/") and counts.get("status") == "ingested"
        }
        sync = built.get(f"activation/{platform}_sync", {})
        parts = [f"{table} {rows}" for table, rows in ingested.items()]
        if sync.get("status") not in (None, "not configured"):
            parts.append(f"sync {sync['status']} ({sync['write_calls']} writes)")
        print(f"    {platform:<12} {'; '.join(parts) if parts else 'not used'}")
    imported = rows.get("raw_files.orders", 0)
    print(f"    {'csv':<12} {f'orders {imported} imported' if imported else 'not used'}")


def print_models(built: dict[str, dict]) -> None:
    """The training run's decision per task (when this run trained) and what scored."""
    training = built.get("ml/model_runs")
    if training is not None:
        print(f"  training      model run {training['model_version']} in "
              f"{training['training_seconds']}s")  # fmt: skip
        for key, decision in training.items():
            if key.endswith("_decision"):
                print(f"    {key.removesuffix('_decision'):<12} {decision}")
    scores = built.get("ml/customer_scores")
    if scores is not None:
        sources = ", ".join(f"{task} {source}" for task, source in scores["score_sources"].items())
        print(f"  scoring       {scores['rows']} customers as of {scores['as_of_date']}, "
              f"model {scores['model_version']}; scored by {sources}")  # fmt: skip


def print_syncs(built: dict[str, dict]) -> None:
    """Each destination's sync: API calls made, then segment sizes, holdouts and list sizes."""
    segments: dict = {}
    for destination in ("klaviyo", "mailchimp"):
        counts = built.get(f"activation/{destination}_sync")
        if counts is None:
            print(f"  {destination:<13} sync did not run")
            continue
        if counts["status"] == "not configured":
            print(f"  {destination:<13} not configured: nothing synced")
            continue
        print(
            f"  {destination:<13} sync {counts['status']}: {counts['planned']} rows planned, "
            f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped; "
            f"API calls {counts['read_calls']} reads, {counts['write_calls']} writes"
        )
        for segment, numbers in counts["per_segment"].items():
            segments.setdefault(segment, numbers.copy())[f"on_{destination}"] = numbers["on_list"]
    if segments:
        print(f"  {'segments':<30}{'members':>8} {'holdout':>8} {'Klaviyo list':>13} "
              f"{'Mailchimp tag':>14}")  # fmt: skip
    for segment, numbers in segments.items():
        print(
            f"    {segment:<28}{numbers['members']:>8} {numbers['holdout']:>8} "
            f"{numbers.get('on_klaviyo', '-'):>13} {numbers.get('on_mailchimp', '-'):>14}"
        )


def main(argv: list[str] | None = None) -> int:
    stop_ignoring_interrupts()  # started in the background, its runs could not stop their tails
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument(
        "--platforms",
        type=parse_platforms,
        default=list(DEFAULT_PLATFORMS),
        help="the platforms the sandbox plays, e.g. shopify,mailchimp (the others stay "
        "unconfigured)",
    )
    parser.add_argument(
        "--next-day",
        action="store_true",
        help="move the sandbox clock one day past the last demo's and run that day only",
    )
    parser.add_argument(
        "--allow-large-change",
        action="store_true",
        help="approve a list change the blast-radius check held back, after reviewing it",
    )
    args, sandbox_args = parser.parse_known_args(argv)
    try:
        sandbox_args = sandbox_clock_args(sandbox_args, args.next_day)
    except DemoClockError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", category=dg.BetaWarning)  # backfill_policy is beta
    began = time.perf_counter()
    with running_sandbox(args.port, sandbox_args) as url:
        use_sandbox_for(url, args.platforms)
        info = requests.get(f"{url}/sandbox/info", timeout=30).json()
        now = datetime.fromisoformat(info["now"]).date()
        last_day = now - timedelta(days=1)
        first_day = last_day if args.next_day else date.fromisoformat(HISTORY_START)
        job = "daily_refresh" if models_registered() else "first_refresh"
        days = (last_day - first_day).days + 1
        print(
            f"running {job} over {days} daily partition(s)"
            + (": each partitioned stage as one range run, the rest once" if days > 1 else ""),
            flush=True,
        )
        result = run_daily_refresh(job, first_day, last_day, args.allow_large_change)
        faults = requests.get(f"{url}/sandbox/state", timeout=30).json()["faults_injected"]
    if result.success:
        record_clock(now)
    store = info["store"]
    print("\nForesight demo")
    print(
        f"  sandbox shop  {store['customers']} customers, {store['start']} + {store['days']} "
        f"days, clock at {info['now'][:10]}, seed {store['seed']}"
        + (f", faults injected {faults}" if faults else "")
    )
    built = materialization_metadata(result)
    rows_per_table = warehouse_counts()
    print_platforms(args.platforms, built, rows_per_table)
    print(f"  {job:<13} partitions {first_day} to {last_day} in one pass: "
          f"{'succeeded' if result.success else 'FAILED'} (run {result.run_id})")  # fmt: skip
    for asset, counts in built.items():
        if "fetched" in counts:  # an ingest asset
            print(
                f"    {asset:<30} fetched {counts['fetched']:>8}  loaded {counts['loaded']:>8}  "
                f"new/changed {counts['inserted'] + counts['updated']:>8}  "
                f"quarantined {counts['quarantined']:>4}  retried {counts['retried']:>3}"
            )
    checks = result.get_asset_check_evaluations()
    models = [
        asset
        for asset, counts in built.items()
        if "fetched" not in counts and not asset.startswith(("activation/", "ml/"))
    ]
    # A warn-severity check (e.g. a segment below its minimum size) does not fail the run.
    warned = sum(not c.passed and c.severity == dg.AssetCheckSeverity.WARN for c in checks)
    print(
        f"    dbt: {len(models)} models built; checks {sum(c.passed for c in checks)} passed, "
        f"{warned} warned, {sum(not c.passed for c in checks) - warned} failed"
    )
    print_models(built)
    print_syncs(built)
    print(f"  dbt's log     {run_output_log()} (each step's output is also in the UI)")
    print(f"  warehouse     {warehouse_path()}")
    for table, rows in rows_per_table.items():
        print(f"    {table:<44} {rows:>9} rows")
    print(f"  finished in   {time.perf_counter() - began:.1f}s")
    blocked = blocked_destinations(failed_step_keys(result.results), built)
    if blocked:
        print("\n" + explain_blocked_sync(blocked, built, args.next_day))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
