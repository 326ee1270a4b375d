"""More of `make chaos`: the score write crashed at every statement, the Mailchimp sync through
each kind of platform fault, and dbt killed (SIGKILL) mid-model at several points.

Each adds rows to the tally `bench.chaos` prints: how often a fault was injected, in how many
runs, and in how many of those the re-runs converged to what an uninterrupted run gives.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline.lib.modeling.scoring import write_scores
from sandbox.shop.simulator import ensure_store
from sandbox.shop.store import StoreView
from tests.conftest import SMALL_STORE
from tests.dbt.dbt_helpers import dbt_build
from tests.defs.ingest_helpers import HISTORY, ingest, sandbox
from tests.faults.crash_harness import Crash, CrashingConnection
from tests.faults.dbt_crash import build_killed, differences
from tests.faults.test_mailchimp_faults import FAULTS, audience_profiles, sync_through_faults
from tests.faults.test_scoring_crash import DAY2, STATEMENTS, history, scores, stored

# (selector, model, seconds after it starts): table models of the core rebuild, and the
# incremental features early and late in their write.
DBT_KILLS = [
    ("core_models", "intermediate.int_customer_identities", 0.2),
    ("core_models", "marts.customers", 0.5),
    ("core_models", "marts.order_items", 0.5),
    ("customer_features", "marts.customer_features", 0.3),
    ("customer_features", "marts.customer_features", 1.5),
]


def scoring_matrix(seeds: list[int], tally: Counter) -> None:
    for seed in seeds:
        with duckdb.connect() as con:
            history(con)
            write_scores(con, scores(DAY2, "v2", seed=seed), DAY2)
            reference = stored(con)
        for statement in STATEMENTS:
            with duckdb.connect() as con:
                history(con)
                try:
                    crashing = CrashingConnection(con, statement)
                    write_scores(crashing, scores(DAY2, "v2", seed=seed), DAY2)
                except Crash:
                    pass
                write_scores(con, scores(DAY2, "v2", seed=seed), DAY2)
                tally["score write crash mid-transaction", "injected"] += 1
                tally["score write crash mid-transaction", "runs"] += 1
                tally["score write crash mid-transaction", "converged"] += stored(con) == reference


def mailchimp_matrix(seeds: list[int], tally: Counter, root: Path) -> None:
    view = StoreView(ensure_store(SMALL_STORE, root / "stores"), datetime(2024, 8, 29))
    try:
        profiles = audience_profiles(view, root / "clean")
        for kind, faults in FAULTS.items():
            for seed in seeds:
                runs = sync_through_faults(view, root / f"{kind}-{seed}", profiles, faults, seed)
                fault = f"mailchimp sync: {kind}"
                tally[fault, "injected"] += sum(runs.injected.values())
                tally[fault, "runs"] += 1
                tally[fault, "converged"] += runs.converged
                tally[fault, "re-runs needed"] += len(runs.failed) - 1
    finally:
        view.close()


def dbt_matrix(kills: int, tally: Counter, root: Path) -> None:
    raw = root / "raw.duckdb"
    with sandbox(root / "sandbox") as url:
        assert ingest(url, raw, *HISTORY).success
    reference = _built(raw, root / "reference")
    for number, (selector, model, after) in enumerate(DBT_KILLS[:kills]):
        work = root / f"kill-{number}"
        warehouse = work / "warehouse.duckdb"
        work.mkdir()
        shutil.copy(raw, warehouse)
        if selector == "customer_features":
            dbt_build(warehouse, work / "dbt", "--selector", "core_models", *_NO_UNIT_TESTS)
        fault = f"dbt killed mid-model ({selector})"
        tally[fault, "injected"] += build_killed(warehouse, work / "killed", selector, model, after)
        tally[fault, "runs"] += 1
        _built(warehouse, work, copy=False)
        tally[fault, "converged"] += differences(warehouse, reference) == {}


_NO_UNIT_TESTS = ("--exclude", "resource_type:unit_test")


def _built(raw: Path, work: Path, copy: bool = True) -> Path:
    warehouse = raw
    if copy:
        work.mkdir(parents=True)
        warehouse = work / "warehouse.duckdb"
        shutil.copy(raw, warehouse)
    for selector in ("core_models", "customer_features"):
        dbt_build(warehouse, work / "dbt", "--selector", selector, *_NO_UNIT_TESTS)
    return warehouse


def run(seeds: list[int], dbt_kills: int, tally: Counter) -> None:
    scoring_matrix(seeds, tally)
    with tempfile.TemporaryDirectory(prefix="foresight-chaos-") as folder:
        mailchimp_matrix(seeds, tally, Path(folder))
        if dbt_kills:
            dbt_matrix(dbt_kills, tally, Path(folder) / "dbt")
