"""A warehouse built from a sandbox store the way production builds one: the ingest assets pull
the whole history from the emulators on 127.0.0.1 in one run, then `dbt build` makes the marts.

Rate limits are scaled up (the platforms' real ones are the ingest benchmark's business); what
lands in the warehouse is the same either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg

from pipeline.defs.ingest.klaviyo import klaviyo_assets
from pipeline.defs.ingest.shopify import shopify_assets
from pipeline.defs.partitions import partition_range_tags
from pipeline.defs.resources import KlaviyoResource, ShopifyResource, WarehouseResource
from pipeline.lib.clients.shopify import SHOPIFY_API_VERSION
from pipeline.lib.settings import PROJECT_ROOT
from sandbox.context import DEFAULT_API_TOKEN
from sandbox.server import build_app, open_sandbox
from sandbox.shop.simulator import StoreSpec
from sandbox.threaded_server import ThreadedServer

DBT_DIR = PROJECT_ROOT / "dbt_project"


def ingest_store(spec: StoreSpec, data_dir: Path, warehouse: Path) -> None:
    """Every API asset over the store's whole history (one partition a day) in one run."""
    ctx = open_sandbox(spec, data_dir, rate_limit_scale=50)
    last_day = spec.end - timedelta(days=1)
    with ThreadedServer(build_app(ctx, bulk_dir=data_dir / "bulk")) as server:
        resources = {
            "shopify": ShopifyResource(
                api_url=f"{server.url}/admin/api/{SHOPIFY_API_VERSION}/graphql.json",
                access_token=DEFAULT_API_TOKEN,
            ),
            "klaviyo": KlaviyoResource(api_url=server.url, api_key=DEFAULT_API_TOKEN),
            "warehouse": WarehouseResource(path=str(warehouse)),
        }
        result = dg.materialize(
            [*shopify_assets, *klaviyo_assets],
            resources=resources,
            tags=partition_range_tags(spec.start.isoformat(), last_day.isoformat()),
            raise_on_error=False,
        )
    if not result.success:
        raise RuntimeError(f"ingest of the sandbox store failed (run {result.run_id})")


def dbt_build(warehouse: Path, work: Path) -> None:
    """`dbt build` of every model and data test (not unit tests), as production runs it."""
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    command = [
        str(Path(sys.executable).parent / "dbt"), "build",
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--exclude", "resource_type:unit_test",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dbt build failed:\n{done.stdout[-3000:]}{done.stderr[-1000:]}")


def build_warehouse(spec: StoreSpec, data_dir: Path) -> Path:
    """A fresh warehouse of `spec` under `data_dir` (rebuilt on every call: re-runs are safe)."""
    warehouse = data_dir / f"models-{spec.file_name().removeprefix('store-')}"
    warehouse.unlink(missing_ok=True)
    ingest_store(spec, data_dir, warehouse)
    dbt_build(warehouse, data_dir / "dbt")
    return warehouse
