"""dbt killed mid-model, for the crash matrix (`tests/faults` and `make chaos`).

`build_killed` starts `dbt build` as Dagster does (a subprocess on the warehouse file) and kills
it with SIGKILL a moment after a chosen model starts; `differences` compares every dbt-built
table of two warehouses row for row (doubles rounded, since DuckDB sums floats in parallel).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import duckdb

from pipeline.lib.warm_dbt.client import plain_dbt
from tests.dbt.dbt_helpers import dbt_cli

BUILT_SCHEMAS = ("staging", "intermediate", "marts")


def build_killed(warehouse: Path, work: Path, selector: str, model: str, after: float) -> bool:
    """`dbt build --selector selector`, killed `after` seconds after `model` starts. True when
    the kill came before dbt finished (False: dbt ended first, or never reached the model)."""
    # Plain dbt: the process killed is then the one writing the warehouse.
    cli, env = dbt_cli(
        warehouse, work, "build", "--selector", selector, "--exclude", "resource_type:unit_test",
        executable=plain_dbt(),
    )  # fmt: skip
    dbt = subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, text=True)
    try:
        for line in dbt.stdout:
            if " START " in line and f" {model} " in line:
                time.sleep(after)
                break
        killed = dbt.poll() is None
    finally:
        dbt.send_signal(signal.SIGKILL)
        dbt.wait()
    return killed


def _rounded(con: duckdb.DuckDBPyConnection, table: str, database: str) -> str:
    schema, name = table.split(".")
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [database, schema, name],
    ).fetchall()
    shown = [f'round("{c}", 6)' if kind in ("DOUBLE", "FLOAT") else f'"{c}"' for c, kind in columns]
    return f"select {', '.join(shown)} from {database}.{table}"


def differences(left: Path, right: Path) -> dict[str, int]:
    """Per table (and for tables only one side has), rows not matched one for one on the other
    side; empty when both warehouses hold the same dbt-built tables with the same rows."""
    with duckdb.connect() as con:
        con.execute(f"attach '{left}' as l (read_only)")
        con.execute(f"attach '{right}' as r (read_only)")
        tables = {side: set(_tables_in(con, side)) for side in ("l", "r")}
        found = {t: -1 for t in tables["l"] ^ tables["r"]}
        for table in sorted(tables["l"] & tables["r"]):
            left_rows, right_rows = _rounded(con, table, "l"), _rounded(con, table, "r")
            (unmatched,) = con.execute(
                f"select (select count(*) from ({left_rows} except all {right_rows})) + "
                f"(select count(*) from ({right_rows} except all {left_rows}))"
            ).fetchone()
            if unmatched:
                found[table] = unmatched
        return found


def _tables_in(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_catalog = ? and table_type = 'BASE TABLE' and table_schema in ?",
            [database, list(BUILT_SCHEMAS)],
        ).fetchall()
    ]
