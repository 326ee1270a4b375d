"""dbt models as Dagster assets: staging -> intermediate -> marts over the raw tables.

Grain and meaning of each model are in its yml. dbt sources are named like the ingest assets'
keys (`[source, table]`), so lineage from raw tables to marts joins by itself. dbt runs as a
subprocess that opens the same warehouse file, in the `duckdb` pool like every writer.

Four sets of models, named selectors in `dbt_project/selectors.yml`, so that each runs as one
step and the graph has no cycle between steps: everything upstream of the point-in-time features
(rebuilt whole), `customer_features` (incremental, one daily partition per as-of date, the
partition window passed in the environment), what reads the features (labels: what training
reads), and what reads the ML scores (segments and their KPIs, after scoring).
"""

import importlib.metadata
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from functools import cached_property
from hashlib import sha1
from pathlib import Path

import dagster as dg
from dagster_dbt import (
    DagsterDbtCliRuntimeError,
    DagsterDbtTranslator,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from packaging import version

from pipeline.defs.partitions import daily_partitions
from pipeline.defs.resources import (
    KlaviyoResource,
    MailchimpResource,
    ShopifyResource,
    WarehouseResource,
)
from pipeline.lib.as_of_batches import batch_windows
from pipeline.lib.ingest.relation_stats import relation_stats
from pipeline.lib.platforms import require_order_source
from pipeline.lib.settings import PROJECT_ROOT
from pipeline.lib.warm_dbt.client import dbt_executable

dbt_project = DbtProject(
    project_dir=PROJECT_ROOT / "dbt_project", profiles_dir=PROJECT_ROOT / "dbt_project"
)

# Marts are rebuilt by the daily refresh: a day and a bit without a build means it stopped.
MARTS_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=30), warn_window=timedelta(hours=26)
)
# The labels are training data, rebuilt by each (weekly) retrain: eight days without one means
# the retrain stopped.
LABELS_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=8), warn_window=timedelta(days=7, hours=6)
)


class ForesightTranslator(DagsterDbtTranslator):
    """dbt models join the `transform` group with the project's owners, and marts get a daily
    freshness policy (the labels a weekly one); sources stay as they are, since the ingest
    assets define them."""

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("source."):
            return spec
        spec = spec.replace_attributes(
            group_name="transform", owners=["team:data"], kinds={"dbt", "duckdb"}
        )
        fqn = manifest["nodes"].get(unique_id, {}).get("fqn", [])
        # Marts, not the intermediate steps kept beside the segment marts they build.
        if fqn[-1:] == ["customer_labels"]:
            spec = dg.apply_freshness_policy(spec, LABELS_FRESHNESS)
        elif "marts" in fqn and "steps" not in fqn:
            spec = dg.apply_freshness_policy(spec, MARTS_FRESHNESS)
        return spec


AS_OF_WINDOW_ENV = ("FORESIGHT_AS_OF_FROM", "FORESIGHT_AS_OF_TO")


def as_of_window_env(start: datetime, end: datetime, history_start: datetime) -> dict[str, str]:
    """The environment naming the as-of dates of the daily partitions [start, end) for dbt.

    The partition of day D holds what was known by the end of D: features as of D + 1. Like
    the first ingest partition, the first one also covers every earlier as-of date. (Not
    `--vars`: dbt re-parses the whole project whenever its vars change, seconds per run; a
    changed environment variable re-parses only the model that reads it.)
    """
    window = {"FORESIGHT_AS_OF_TO": end.date().isoformat()}
    if start.date() > history_start.date():
        window["FORESIGHT_AS_OF_FROM"] = (start + timedelta(days=1)).date().isoformat()
    return window


def feature_batches(warehouse: WarehouseResource, as_of_window: dict[str, str]) -> list[dict]:
    """The as-of window as the windows of its batches (one, unless it holds more feature rows
    than a batch may: see `pipeline.lib.as_of_batches`)."""
    first = as_of_window.get("FORESIGHT_AS_OF_FROM")
    window = (date.fromisoformat(first) if first else None,
              date.fromisoformat(as_of_window["FORESIGHT_AS_OF_TO"]))  # fmt: skip
    with warehouse.connect(read_only=True) as con:
        batches = batch_windows(con, window)
    return [
        {"FORESIGHT_AS_OF_TO": end.isoformat()}
        | ({"FORESIGHT_AS_OF_FROM": start.isoformat()} if start else {})
        for start, end in batches
    ]


def _dbt_cli(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    command: str,
    as_of_window: dict[str, str] | None,
) -> DbtCliInvocation:
    # profiles.yml reads the warehouse from WAREHOUSE_PATH: make the dbt subprocess open exactly
    # the file this run's warehouse resource names.
    os.environ["WAREHOUSE_PATH"] = str(Path(warehouse.path).resolve())
    # Another process holding the file (an analyst's session, even read-only) would fail dbt
    # deep in its log: open it here first, so the run fails naming the holder and the fix.
    with warehouse.connect():
        pass
    for name in AS_OF_WINDOW_ENV:
        os.environ.pop(name, None)
    os.environ.update(as_of_window or {})
    # No manifest.json or run_results.json: the step reads dbt's event stream, and writing the
    # whole manifest again costs about a second per step.
    return dbt.cli(
        [command, "--no-write-json"],
        context=context,
        target_path=warehouse_target_path(warehouse.path),
    )


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    as_of_window: dict[str, str] | None = None,
) -> Iterator:
    invocation = _dbt_cli(context, dbt, warehouse, "build", as_of_window)
    # dbt holds the warehouse's write lock until it exits, so the models' outputs wait for it and
    # get the UI's row counts and column types after, in one query each; test results are
    # recorded as they come, while dbt goes on. (dagster-dbt's own fetchers poll their futures
    # without sleeping while dbt runs, taking a core from it.)
    outputs, failure = [], None
    try:
        for event in invocation.stream():
            if isinstance(event, dg.AssetCheckResult):
                yield event
            else:
                outputs.append(event)
    except DagsterDbtCliRuntimeError as error:  # still report the models built before it
        failure = error
    yield from _with_relation_stats(outputs, invocation.manifest["nodes"], warehouse)
    if failure is not None:
        raise failure


def warehouse_target_path(warehouse_file: str | Path) -> Path:
    """dbt's target folder for one warehouse file, the same for every step and run on it.

    dbt parses only what changed when its last parse was for the same profile, and the profile
    names the warehouse: so each warehouse keeps its own parse state (a folder per invocation
    would start from the one `make setup` parsed, whole again whenever the path differs, seconds
    per step). dbt never runs twice at once on a warehouse (the `duckdb` pool), and its log in
    the folder rotates by size.
    """
    resolved = str(Path(warehouse_file).resolve())
    return (
        dbt_project.project_dir / "target" / "warehouses" / sha1(resolved.encode()).hexdigest()[:16]
    )


def _with_relation_stats(events: list, nodes: dict, warehouse: WarehouseResource) -> Iterator:
    """Each model's output with its column types and (tables only) row count attached."""
    built = {
        event.metadata["unique_id"].text: event
        for event in events
        if isinstance(event, dg.Output) and "unique_id" in event.metadata
    }
    relations = {
        unique_id: (nodes[unique_id]["schema"], nodes[unique_id]["alias"])
        for unique_id in built
        if unique_id in nodes
    }
    with warehouse.connect(read_only=True) as con:
        stats = relation_stats(con, list(relations.values()))
    for event in events:
        unique_id = event.metadata["unique_id"].text if isinstance(event, dg.Output) else None
        found = stats.get(relations.get(unique_id))
        if found is None:
            yield event
            continue
        schema = dg.TableSchema(columns=[dg.TableColumn(n, t) for n, t in found.columns])
        table = {"dagster/column_schema": schema}
        if found.row_count is not None:
            table["dagster/row_count"] = dg.MetadataValue.int(found.row_count)
        yield event.with_metadata({**event.metadata, **table})


_COMMON = dict(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=ForesightTranslator(),
    pool="duckdb",
)


def _imported_orders(warehouse: WarehouseResource) -> int:
    """Rows of imported order CSVs (0 when none was ever imported)."""
    with warehouse.connect(read_only=True) as con:
        found = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'raw_files' and table_name = 'orders'"
        ).fetchone()[0]
        return con.execute("select count(*) from raw_files.orders").fetchone()[0] if found else 0


@dbt_assets(name="dbt_core_models", selector="core_models", **_COMMON)
def foresight_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    shopify: ShopifyResource,
    klaviyo: KlaviyoResource,
    mailchimp: MailchimpResource,
):
    """Staging, identity, core marts: rebuilt whole each run, from the platforms configured
    (at least one source of orders); the platforms used are logged and in the run's tags."""
    configured = [
        name
        for name, resource in (("shopify", shopify), ("klaviyo", klaviyo), ("mailchimp", mailchimp))
        if resource.configured
    ]
    order_sources = require_order_source(configured, _imported_orders(warehouse))
    used = {"platforms": ",".join(configured) or "none", "order_sources": ",".join(order_sources)}
    context.log.info(
        f"Building from platforms {used['platforms']}; orders from {used['order_sources']}"
    )
    # Run tags show on the run's page in the UI: which platforms this run's data came from.
    context.instance.add_run_tags(context.run_id, {f"foresight/{k}": v for k, v in used.items()})
    yield from _build(context, dbt, warehouse)


@dbt_assets(
    name="dbt_customer_features",
    selector="customer_features",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    **_COMMON,
)
def foresight_dbt_features(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    """Point-in-time features for the as-of dates of the run's partitions: one pass per range,
    in batches of dates when the range holds more rows than fit in memory at once."""
    window = context.partition_time_window
    batches = feature_batches(
        warehouse, as_of_window_env(window.start, window.end, daily_partitions.start)
    )
    for number, batch in enumerate(batches, start=1):
        if len(batches) > 1:
            context.log.info(
                f"Features as of {batch.get('FORESIGHT_AS_OF_FROM', 'the first day')} to"
                f" {batch['FORESIGHT_AS_OF_TO']}: batch {number} of {len(batches)}"
            )
        # Every batch but the last builds its dates only; the last one's `build` reports the
        # model and runs its data tests over the whole table.
        if number < len(batches):
            _dbt_cli(context, dbt, warehouse, "run", batch).wait()
        else:
            yield from _build(context, dbt, warehouse, batch)


@dbt_assets(name="dbt_feature_readers", selector="feature_readers", **_COMMON)
def foresight_dbt_feature_readers(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    """The labels training reads: rebuilt whole by the jobs that train, before they train."""
    yield from _build(context, dbt, warehouse)


@dbt_assets(name="dbt_score_readers", selector="score_readers", **_COMMON)
def foresight_dbt_score_readers(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    """Segments, segment history and KPIs over the latest scores: after scoring, each run."""
    yield from _build(context, dbt, warehouse)


dbt_model_assets = [
    foresight_dbt_models,
    foresight_dbt_features,
    foresight_dbt_feature_readers,
    foresight_dbt_score_readers,
]


class ProjectDbtCliResource(DbtCliResource):
    """dbt as the project runs it, without two costs per step that buy this project nothing.
    dbt runs warm (`foresight-dbt`: see `pipeline.lib.warm_dbt`), and when the executable is
    beside this Python, its version is read from the installed package: asking `dbt --version`
    would start dbt once more (seconds). And no dbt adapter is
    loaded into the step's process: dagster-dbt builds one (project, profile, every macro:
    about 3 s of CPU) only for its metadata fetchers, and the steps read row counts and column
    types themselves (`_with_relation_stats`)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_resource() -> DbtCliResource:
    return ProjectDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
