"""`make import-csv CSV=path`: import an order-history CSV export into `raw_files.orders`.

Runs the `import_order_csv` job once, recorded in the Dagster instance like any other run, and
prints what was loaded and quarantined (and why, if the file could not be read at all).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import dagster as dg

from pipeline.cli.run_job import run_job_once
from pipeline.definitions import defs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path, help="the CSV export")
    parser.add_argument("--date-format", help='strftime format of ordered_at, e.g. "%%d/%%m/%%Y"')
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    config = {"path": str(args.path.resolve()), "date_format": args.date_format}
    counts = run_job_once(defs, "import_order_csv", "files__orders", config, "import")
    if counts is None:
        return 1
    print(
        f"imported {args.path.name}: {counts['fetched']} rows read, {counts['loaded']} loaded "
        f"({counts['inserted']} new, {counts['updated']} changed), "
        f"{counts['quarantined']} quarantined in raw_files.orders_quarantine"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
