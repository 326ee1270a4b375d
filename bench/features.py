"""Transform time at scale: the dbt models, point-in-time features first, over N customers.

The sandbox's Klaviyo emulator pages events at the platform's rate limits (hours for two
years of a 100k-customer shop), so this bench scales an ingested 10k-customer warehouse out
instead: each of `replicas` copies every raw row with its platform ids, emails and phones made
unique to the copy, so identity resolution, orders and events behave per copy exactly as in the
original shop. Then a full `dbt run` (models only; `customer_features` in batches of as-of dates
as the feature step builds a whole history) is timed per model from dbt's run results, and so
is the daily incremental run of `customer_features` for one as-of date.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from pipeline.lib.as_of_batches import batch_windows
from pipeline.lib.settings import PROJECT_ROOT
from pipeline.lib.warm_dbt.client import dbt_executable

DBT_DIR = PROJECT_ROOT / "dbt_project"
# Tables shared by every copy (the catalogue and Klaviyo's metric and list definitions).
SHARED = {"products", "metrics", "lists"}
# Shopify ids are 13-14 digit numbers with a two-digit type prefix (customer 61, order and
# line item 55, checkout 33); a copy digit after the prefix keeps them numeric and unique.
SHOPIFY_ID = r"([^0-9]|^)(55|61|33)([0-9]{11,12})([^0-9]|$)"


def _rewrite(column: str) -> str:
    """SQL making one text column's ids, emails and phones unique to copy `r`."""
    text = f"cast({column} as varchar)"
    text = f"replace({text}, '@', '+c' || r || '@')"
    text = f"regexp_replace({text}, '{SHOPIFY_ID}', '\\1\\2' || r || '\\3\\4', 'g')"
    text = f"regexp_replace({text}, '(^|\")01J', '\\101J' || r, 'g')"  # Klaviyo profile ids
    # Mailchimp member ids are the MD5 of the original address: unchanged, they would link
    # every copy of a person into one customer through the identity graph.
    md5 = "(^|[^0-9a-f])([0-9a-f]{32})([^0-9a-f]|$)"
    text = f"regexp_replace({text}, '{md5}', '\\1\\2c' || r || '\\3', 'g')"
    return f"regexp_replace({text}, '\\+1(555)', '+1' || r || '\\1', 'g')"  # phones


def scale_out(source: Path, target: Path, replicas: int) -> dict[str, int]:
    """`replicas` disjoint copies of every raw table of `source` in a new warehouse."""
    target.unlink(missing_ok=True)
    counts = {}
    with duckdb.connect(str(target)) as con:
        con.execute(f"attach '{source}' as src (read_only)")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables()"
            " where database_name = 'src' and schema_name like 'raw_%'"
        ).fetchall()
        for schema, table in tables:
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {schema}.{table} as from src.{schema}.{table} limit 0")
            columns = con.execute(
                "select column_name, data_type from duckdb_columns()"
                " where database_name = 'src' and schema_name = ? and table_name = ?",
                [schema, table],
            ).fetchall()
            if table in SHARED:
                con.execute(f"insert into {schema}.{table} from src.{schema}.{table}")
            else:
                select = ", ".join(
                    f"cast({_rewrite(name)} as {kind})" if kind in ("VARCHAR", "JSON") else name
                    for name, kind in columns
                )
                con.execute(
                    f"insert into {schema}.{table} select {select}"
                    f" from src.{schema}.{table}, range({replicas}) as copies(r)"
                )
            (counts[f"{schema}.{table}"],) = con.execute(
                f"select count(*) from {schema}.{table}"
            ).fetchall()[0]
    return counts


def dbt_timings(
    warehouse: Path, work: Path, *args: str, env: dict[str, str] | None = None
) -> dict[str, float]:
    """Seconds per model of one dbt invocation on `warehouse` (`env`: extra environment), run
    as the pipeline runs dbt (warm: see `pipeline.lib.warm_dbt`)."""
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse), "DO_NOT_TRACK": "1", **(env or {})}
    command = [
        dbt_executable(), *args,
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
    ]  # fmt: skip
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}


def measure_features(source: Path, data_dir: Path, replicas: int) -> None:
    """Print raw sizes, full-build seconds per heavy model, and the daily feature run."""
    if not source.exists():
        print(f"no ingested warehouse at {source}: running the demo to make one", flush=True)
        subprocess.run([sys.executable, "-m", "pipeline.cli.demo"], check=True)
    data_dir = data_dir.resolve()  # dbt resolves relative paths against its project
    warehouse = data_dir / "features-warehouse.duckdb"
    began = time.perf_counter()
    counts = scale_out(source, warehouse, replicas)
    print(f"\ntransform, {replicas} copies of {source.name} ({time.perf_counter() - began:.0f}s)")
    for table in ("raw_shopify.customers", "raw_shopify.orders", "raw_klaviyo.events"):
        print(f"  {table:<28} {counts[table]:>10} rows")
    began = time.perf_counter()
    full = dbt_timings(warehouse, data_dir / "dbt-full", "run", "--selector", "core_models")
    features = build_features_in_batches(warehouse, data_dir / "dbt-features")
    full |= dbt_timings(warehouse, data_dir / "dbt-full", "run", "--selector", "feature_readers")
    total = time.perf_counter() - began
    with duckdb.connect(str(warehouse), read_only=True) as con:
        customers, rows, dates, last = con.execute(
            "select (select count(*) from marts.customers), count(*),"
            " count(distinct as_of_date), max(as_of_date) from marts.customer_features"
        ).fetchall()[0]
    print(f"  customers {customers}, feature rows {rows} over {dates} as-of dates")
    print(f"  full dbt run {total:.0f}s; slowest models:")
    full["customer_features"] = sum(features.values())
    for model, seconds in sorted(full.items(), key=lambda item: -item[1])[:6]:
        print(f"    {model:<36} {seconds:>7.1f}s")
    day = {"FORESIGHT_AS_OF_FROM": str(last), "FORESIGHT_AS_OF_TO": str(last)}
    daily = dbt_timings(
        warehouse, data_dir / "dbt-daily", "run", "--select", "customer_features", env=day
    )
    print(f"  customer_features in {len(features)} batches of dates:")
    for (first, last), seconds in features.items():
        print(f"    {first or 'first day'} to {last}  {seconds:>7.1f}s")
    print(f"  daily customer_features run (one as-of date) {daily['customer_features']:.1f}s")


def build_features_in_batches(warehouse: Path, work: Path) -> dict[tuple, float]:
    """Every as-of date of `customer_features` the way the feature step builds a full history:
    in batches of dates (`pipeline.lib.as_of_batches`); wall seconds per batch."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (last,) = con.execute(
            "select max(as_of_date) from intermediate.int_feature_as_of_dates"
        ).fetchone()
        batches = batch_windows(con, (None, last))
    seconds = {}
    for first, end in batches:
        window = {"FORESIGHT_AS_OF_TO": str(end)} | (
            {"FORESIGHT_AS_OF_FROM": str(first)} if first else {}
        )
        began = time.perf_counter()
        dbt_timings(warehouse, work, "run", "--select", "customer_features", env=window)
        seconds[(first, end)] = time.perf_counter() - began
    return seconds
