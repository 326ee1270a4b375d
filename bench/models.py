"""`python -m bench.models`: how good the models are on the sandbox store, and how fast.

    python -m bench.models [--shapes default fashion ...] [--customers 4000] [--days N]
        [--seed 1] [--data-dir data/bench]
        [--warehouse PATH | --reuse-warehouses] [--cltv-horizons 365 90] [--train-customers 100000]
        [--scoring-rows 1000000]

The store is ingested and built into a fresh warehouse (or `--warehouse` names an already built
one of the same store, copied first). One training run as production runs it, then every
metric on each task's held-out test snapshots for the scorer production would promote, our
model, the baselines fitted in that run and the ceiling — scores from the true simulated traits
as of the same date. All scorers are judged on the same rows: the test rows whose customer
resolves to one simulated person. Skill is (AUC − 0.5) / (ceiling AUC − 0.5).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from bench.model_speed import time_scoring, time_training
from bench.truth_scores import customer_people, truth_scores
from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.modeling.categories import OTHER
from pipeline.lib.modeling.datasets import load_scoring_frame, load_training_frame
from pipeline.lib.modeling.evaluate import amount_metrics, classification_metrics
from pipeline.lib.modeling.registry import choose_serving
from pipeline.lib.modeling.steps import latest_feature_date
from pipeline.lib.modeling.tasks import tasks
from pipeline.lib.modeling.training_run import (
    RunConfig,
    TaskResult,
    add_btyd_baseline,
    train_all,
    train_task,
)
from sandbox.shop.shapes import SHAPES
from sandbox.shop.simulator import StoreSpec, ensure_store

COLUMNS = {
    "binary": ["roc_auc", "log_loss", "ece", "pr_auc", "brier", "skill"],
    "amount": ["normalised_gini", "spearman", "total_ratio", "decile_mape", "mae"],
    "multiclass": ["accuracy"],
}


def ceiling(result: TaskResult, truth: pd.DataFrame) -> pd.Series:
    """The truth's score for the task's label, by customer_id."""
    h, name = result.task.horizon, result.task.name
    column = {"purchase": f"p_order_{h}", "churn": f"p_no_order_{h}", "cltv": f"revenue_{h}"}
    if name == "category":
        # The truth's favourite as one of the model's classes (a category it lacks is `other`).
        index = {category: i for i, category in enumerate(result.model.classes)}
        top = truth.set_index("customer_id")["top_category"]
        return top.map(lambda category: index.get(category, index.get(OTHER)))
    return truth.set_index("customer_id")[column[name]]


def metrics(kind: str, actual, predicted) -> dict:
    if kind == "binary":
        return classification_metrics(actual, predicted)
    if kind == "amount":
        return amount_metrics(actual, predicted)
    return {"accuracy": float((actual == predicted).mean()), "n": len(actual)}


def promoted_scorer(result: TaskResult) -> str:
    """The scorer production would serve the task with after this run (no earlier champion):
    our model, or the run's best baseline."""
    serving = choose_serving(result.task.name, result.metrics, result.baseline_metrics, None, 0.0)
    return "model" if serving.source == "lightgbm" else serving.source


def quality_rows(label: str, result: TaskResult, truths: dict[pd.Timestamp, pd.DataFrame]):
    """(task label, scorer, metrics) for the promoted scorer, the model, each baseline and the
    ceiling, on the test rows whose customer resolves to one simulated person."""
    parts = []
    for day, rows in result.test.groupby("as_of_date"):
        parts.append(rows.assign(ceiling=rows["customer_id"].map(ceiling(result, truths[day]))))
    test = pd.concat(parts)
    matched = test.loc[test["ceiling"].notna()]
    # p10/p90 are a range, judged by coverage, not scorers of the expected amount.
    skip = ("customer_id", "as_of_date", "actual", "p10", "p90")
    scorers = [c for c in test.columns if c not in skip]
    scored = {s: metrics(result.task.kind, matched["actual"], matched[s]) for s in scorers}
    if result.task.kind == "binary":
        for values in scored.values():
            values["skill"] = (values["roc_auc"] - 0.5) / (scored["ceiling"]["roc_auc"] - 0.5)
    promoted = promoted_scorer(result)
    yield label, f"promoted={promoted}", scored[promoted]
    for scorer in scorers:
        yield label, scorer, scored[scorer]
    yield label, f"(test rows without a simulated person: {len(test) - len(matched)})", None


def print_table(kind: str, rows: list) -> None:
    names = COLUMNS[kind]
    print(f"\n{'task':<34} {'scorer':<22} {'n':>6} " + " ".join(f"{n:>15}" for n in names))
    for label, scorer, values in rows:
        if values is None:
            print(f"{label:<34} {scorer}")
            continue
        cells = " ".join(f"{values.get(n, float('nan')):>15.4f}" for n in names)
        print(f"{label:<34} {scorer:<22} {values['n']:>6} {cells}")


def train(frame: pd.DataFrame, cltv_horizons: list[int]) -> dict[str, TaskResult]:
    """The production run (first CLTV horizon), plus CLTV alone at each other horizon."""
    config = RunConfig(cltv_horizon=cltv_horizons[0])
    run = train_all(frame, config)
    results = dict(run.results)
    for h in cltv_horizons[1:]:
        [cltv] = [t for t in tasks(30, 90, h) if t.name == "cltv"]
        result = results[f"cltv@{h}"] = train_task(
            frame, cltv, config, run.prospect_rates, run.btyd_fits
        )
        if result.model is not None:
            add_btyd_baseline(result, frame, run.prospect_rates, run.btyd_fits)
    return results


def judge_shape(spec: StoreSpec, args: argparse.Namespace):
    """Build (or reuse) the shape's warehouse, train as production does and print its tables;
    returns the training frame, the scoring-day frame and the trained results."""
    store = ensure_store(spec, args.data_dir / "stores")
    began = time.perf_counter()
    built = args.data_dir / f"models-{spec.file_name().removeprefix('store-')}"
    if args.warehouse:
        warehouse = shutil.copy(args.warehouse, args.data_dir / "models-warehouse.duckdb")
    elif args.reuse_warehouses and built.exists():
        warehouse = built
    else:
        from bench.warehouse import build_warehouse  # after the filter: Dagster warns on import

        warehouse = build_warehouse(spec, args.data_dir)
    ready = time.perf_counter() - began
    print(f"\n=== shape {spec.shape}: {spec.customers} customers × {spec.days} days (seed "
          f"{spec.seed}); warehouse ready in {ready:.0f}s", flush=True)  # fmt: skip
    with connect(Path(warehouse), read_only=True) as con:
        as_of = latest_feature_date(con)
        began = time.perf_counter()
        frame = load_training_frame(con, as_of)
        load_seconds = time.perf_counter() - began
        scoring_frame = load_scoring_frame(con, as_of)
    began = time.perf_counter()
    results = train(frame, args.cltv_horizons)
    train_seconds = time.perf_counter() - began
    people = customer_people(store, Path(warehouse))
    by_kind: dict[str, list] = {kind: [] for kind in COLUMNS}
    truths: dict[pd.Timestamp, pd.DataFrame] = {}
    for label, result in results.items():
        if result.model is None:
            print(f"{label}: falls back to BTYD/rules ({result.fallback_reason})")
            continue
        tests = result.split.tests
        name = f"{label} (test {tests[0]:%Y-%m-%d}..{tests[-1]:%m-%d})"
        for day in tests:
            if day not in truths:
                truths[day] = truth_scores(store, people, day)
        by_kind[result.task.kind].extend(quality_rows(name, result, truths))
    for kind, rows in by_kind.items():
        print_table(kind, rows)
    print(f"\ntraining on {len(frame)} labelled rows as of {as_of}: load {load_seconds:.1f}s, "
          f"train (every task, baselines, extra CLTV horizons) {train_seconds:.1f}s",
          flush=True)  # fmt: skip
    return frame, scoring_frame, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES), help="shapes to judge"
    )
    parser.add_argument("--customers", type=int, default=4_000)
    parser.add_argument(
        "--days", type=int, help="days of history (default: each shape's own, e.g. 120 for young)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=Path("data/bench"))
    parser.add_argument("--warehouse", type=Path, help="an already built warehouse (one shape)")
    parser.add_argument(
        "--reuse-warehouses", action="store_true", help="use a shape's warehouse built before"
    )
    parser.add_argument("--cltv-horizons", type=int, nargs="+", default=[365, 90])
    parser.add_argument("--train-customers", type=int, default=100_000)
    parser.add_argument("--scoring-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    # pymc/pytensor and scipy talk (BLAS, deprecations, constant inputs): keep the table legible.
    warnings.filterwarnings("ignore")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    judged = {}
    for shape in args.shapes:
        days = SHAPES[shape].default_days if args.days is None else args.days
        spec = StoreSpec(seed=args.seed, customers=args.customers, days=days, shape=shape)
        judged[shape] = judge_shape(spec, args)
    # Speed, on the first shape's data tiled to the sizes asked for.
    frame, scoring_frame, results = judged[args.shapes[0]]
    if args.train_customers:
        timing = time_training(frame, args.train_customers, 52, RunConfig())
        print(f"training run, {timing.customers} customers × {timing.snapshots} weekly "
              f"snapshots ({timing.rows} rows, tiled): {timing.seconds:.0f}s; "
              f"LightGBM fit per task {timing.tasks}", flush=True)  # fmt: skip
    models = {r.task.name: r.model for r in results.values() if r.model is not None}
    if args.scoring_rows and {"purchase", "churn", "cltv"} <= set(models):
        speed = time_scoring(scoring_frame, models, args.scoring_rows,
                             args.data_dir / "scoring-bench.duckdb")  # fmt: skip
        print(f"scoring {speed.rows} customers (tiled): scores and reasons "
              f"{speed.score_seconds:.0f}s, write {speed.write_seconds:.0f}s, "
              f"{speed.rows_per_second:,.0f} rows/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
