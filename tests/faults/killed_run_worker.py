"""A run worker to kill: one asset in the `duckdb` pool that signals it holds the slot, then
waits. Run as `python killed_run_worker.py INSTANCE_DIR MARKER HOLD_SECONDS`."""

import sys
import time
from pathlib import Path

import dagster as dg

instance_dir, marker, hold = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])


@dg.asset(pool="duckdb")
def warehouse_writer() -> None:
    marker.write_text("holding the duckdb slot")
    time.sleep(hold)


if __name__ == "__main__":
    with dg.DagsterInstance.from_config(instance_dir) as instance:
        dg.materialize([warehouse_writer], instance=instance)
