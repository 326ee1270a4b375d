"""A Dagster run that writes the warehouse, for the concurrency tests: one asset (in the
`duckdb` pool unless told otherwise) that opens the warehouse file, says so, holds it until the
file RELEASE exists ("-": not at all) and records when it held it. Exits 0 when the run
succeeded, else 1 after printing the run's error as the UI shows it (with its causes).

    python warehouse_run_worker.py INSTANCE_DIR WAREHOUSE LABEL RELEASE POOL|NOPOOL
"""

import sys
import time
from pathlib import Path

import dagster as dg

from pipeline.lib.ingest.warehouse import connect

instance_dir, warehouse, label = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
release, pooled = sys.argv[4], sys.argv[5] == "POOL"


@dg.asset(name=f"writer_{label}", pool="duckdb" if pooled else None)
def writer() -> None:
    with connect(warehouse) as con:
        print("holding the warehouse", flush=True)
        began = time.time()
        while release != "-" and not Path(release).exists():
            time.sleep(0.05)
        con.execute("create table if not exists writes (label varchar, began double, ended double)")
        con.execute("insert into writes values (?, ?, ?)", [label, began, time.time()])


if __name__ == "__main__":
    with dg.DagsterInstance.from_config(instance_dir) as instance:
        result = dg.materialize([writer], instance=instance, raise_on_error=False)
    if not result.success:
        [failure] = [e for e in result.all_events if e.is_step_failure]
        print(failure.step_failure_data.error.to_string(), flush=True)
    sys.exit(0 if result.success else 1)
