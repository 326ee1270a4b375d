"""dbt models as Dagster assets: staging -> intermediate -> marts over the raw tables.

Grain and meaning of each model are in its yml. dbt sources are named like the ingest assets'
keys (`[source, table]`), so lineage from raw tables to marts joins by itself. dbt runs as a
subprocess that opens the same warehouse file, in the `duckdb` pool like every writer.
"""

import os
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipeline.defs.resources import WarehouseResource
from pipeline.lib.settings import PROJECT_ROOT

dbt_project = DbtProject(
    project_dir=PROJECT_ROOT / "dbt_project", profiles_dir=PROJECT_ROOT / "dbt_project"
)


class ForesightTranslator(DagsterDbtTranslator):
    """dbt models join the `transform` group with the project's owners; sources stay as they
    are, since the ingest assets define them."""

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("source."):
            return spec
        return spec.replace_attributes(
            group_name="transform", owners=["team:data"], kinds={"dbt", "duckdb"}
        )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=ForesightTranslator(),
    # Unit tests check model logic against fixtures; `make test` runs them, runs do not.
    exclude="resource_type:unit_test",
    pool="duckdb",
)
def foresight_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    # profiles.yml reads the warehouse from WAREHOUSE_PATH: make the dbt subprocess open exactly
    # the file this run's warehouse resource names.
    os.environ["WAREHOUSE_PATH"] = str(Path(warehouse.path).resolve())
    yield from dbt.cli(["build"], context=context).stream()


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project)
