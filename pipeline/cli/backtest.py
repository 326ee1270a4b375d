"""`make backtest CSV=orders.csv AS_OF=2025-03-03`: how would the models have done?

Imports an order-history CSV into a warehouse of its own (`data/backtest/<name>/`, rebuilt on
every run; the main warehouse is never touched), builds the dbt models, trains as the shop stood
on AS_OF (only labels known before it), scores every customer as of AS_OF, and judges those
scores against what the same CSV says happened after AS_OF. Writes `evaluation.json`,
`report.html` and the plots to `data/backtest/<name>/evaluation/` and prints a short table.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from pipeline.lib.backtest.evaluation import evaluate_backtest, write_evaluation
from pipeline.lib.backtest.run import BacktestConfig, BacktestError, run_backtest
from pipeline.lib.ingest.csv_orders import CsvOrdersError
from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.modeling.training_run import RunConfig
from pipeline.lib.settings import PROJECT_ROOT
from pipeline.lib.shared_values import LABEL_HORIZONS_DAYS

SHOWN = {
    "binary": ("roc_auc", "pr_auc", "log_loss", "top_decile_lift"),
    "amount": ("normalised_gini", "spearman", "total_ratio"),
    "category": ("accuracy",),
}


def _horizons(text: str) -> tuple[int, int, int]:
    """'30,90,365' → (purchase, churn, cltv) horizons in days."""
    try:
        purchase, churn, cltv = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"horizons must be three day counts 'purchase,churn,cltv', e.g. 30,90,365; got {text!r}"
        ) from None
    return purchase, churn, cltv


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("csv", type=Path, help="the order-history CSV export")
    parser.add_argument(
        "--as-of",
        required=True,
        type=date.fromisoformat,
        help="score the shop as it stood on this day (YYYY-MM-DD), any day inside the data",
    )
    parser.add_argument("--date-format", help='strftime format of ordered_at, e.g. "%%d/%%m/%%Y"')
    parser.add_argument(
        "--horizons",
        type=_horizons,
        default=(RunConfig.purchase_horizon, RunConfig.churn_horizon, RunConfig.cltv_horizon),
        help=f"purchase,churn,cltv horizons in days (each one of {LABEL_HORIZONS_DAYS})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the warehouse and the evaluation "
        "(default data/backtest/<csv name>-<as-of>)",
    )
    return parser.parse_args(argv)


def _row(name: str, entry: dict) -> str:
    window = f"{entry['window']['from']}..{entry['window']['to']}"
    head = f"{name:<9} {entry['horizon_days']:>4}d  {window}  {entry['scored_by']:<12}"
    if not entry["evaluated"]:
        return f"{head} not evaluated: {entry['reason']}"
    metrics = entry["metrics"]
    kind = "category" if name == "category" else ("amount" if name == "cltv" else "binary")
    shown = ", ".join(
        f"{m} {metrics['scores'][m]:.3f}"
        + "".join(f" ({ref} {row[m]:.3f})" for ref, row in metrics.items() if ref != "scores")
        for m in SHOWN[kind]
    )
    return f"{head} n={metrics['scores']['n']:<6} {shown}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    purchase, churn, cltv = args.horizons
    folder = args.out or PROJECT_ROOT / "data" / "backtest" / f"{args.csv.stem}-{args.as_of}"
    try:
        run = RunConfig(purchase_horizon=purchase, churn_horizon=churn, cltv_horizon=cltv)
        config = BacktestConfig(
            args.csv.resolve(), args.as_of, folder.resolve(), args.date_format, run
        )
        done = run_backtest(config)
    except (BacktestError, CsvOrdersError, ValueError) as exc:
        print(f"backtest failed: {exc}")
        return 1
    decisions = {row["task"]: row for row in done.training.rows}
    category = decisions.get("category", {})
    sources = {
        **done.scoring.sources,
        "category": category["score_source"] if category.get("is_champion") else "top_category",
    }
    rates = {int(h): r for h, r in done.training.rows[0]["params"]["prospect_rates"].items()}
    with connect(config.warehouse, read_only=True) as con:
        evaluation, plots = evaluate_backtest(con, args.as_of, run, sources, rates)
    evaluation |= {
        "csv": args.csv.name,
        "orders_loaded": done.imported.loaded,
        "orders_quarantined": done.imported.quarantined,
        "model_version": done.training.version,
        "training_decisions": {task: row["decision"] for task, row in decisions.items()},
        "customers_scored": done.scoring.rows,
    }
    path = write_evaluation(config.folder / "evaluation", evaluation, plots)
    print(
        f"backtest of {args.csv.name} as of {args.as_of}: {done.imported.loaded} orders loaded "
        f"({done.imported.quarantined} quarantined), "
        f"data before {evaluation['data_known_before']}, "
        f"{done.scoring.rows} customers scored"
    )
    for name, entry in evaluation["tasks"].items():
        print("  " + _row(name, entry))
    print(f"evaluation: {path}\nreport:     {path.with_name('report.html')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
