"""`make import-csv CSV=path`: import an order-history CSV export into `raw_files.orders`.

Runs the `import_order_csv` job once, recorded in the Dagster instance like any other run, and
prints what was loaded and quarantined (and why, if the file could not be read at all).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import dagster as dg

from pipeline.definitions import defs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path, help="the CSV export")
    parser.add_argument("--date-format", help='strftime format of ordered_at, e.g. "%%d/%%m/%%Y"')
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    config = {"path": str(args.path.resolve()), "date_format": args.date_format}
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    result = defs.resolve_job_def("import_order_csv").execute_in_process(
        run_config={"ops": {"files__orders": {"config": config}}},
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    if not result.success:
        for event in result.all_events:
            if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                error = event.event_specific_data.error
                while error.cause is not None:  # the step error wraps the reader's own message
                    error = error.cause
                print(f"import failed: {error.message.strip()}")
        return 1
    [event, *_] = result.get_asset_materialization_events()
    counts = {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}
    print(
        f"imported {args.path.name}: {counts['fetched']} rows read, {counts['loaded']} loaded "
        f"({counts['inserted']} new, {counts['updated']} changed), "
        f"{counts['quarantined']} quarantined in raw_files.orders_quarantine"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
