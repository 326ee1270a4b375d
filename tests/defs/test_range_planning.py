"""A run over a range of daily partitions, with partitioned and unpartitioned assets in one job:
one pass over the range, planned with one event per asset (the project's setting)."""

import dagster as dg
import pytest

from pipeline.defs import plan_ranges_as_one_event
from pipeline.defs.partitions import daily_partitions, partition_range_tags

DAYS = daily_partitions  # the product's own daily partitions
RANGE = partition_range_tags("2024-01-01", "2024-01-05")
SINGLE_RUN = {"backfill_policy": dg.BackfillPolicy.single_run(), "partitions_def": DAYS}


@dg.asset(**SINGLE_RUN)
def raw(context: dg.AssetExecutionContext) -> None:
    assert len(context.partition_keys) == 5  # one pass over the whole range


@dg.asset
def lookup() -> None: ...


@dg.asset(deps=[raw, lookup])
def model() -> None: ...


@dg.asset(deps=[model], **SINGLE_RUN)
def features() -> None: ...


@dg.asset(deps=[features], **SINGLE_RUN)
def scores() -> None: ...


JOB = dg.Definitions(
    assets=[raw, lookup, model, features, scores],
    jobs=[dg.define_asset_job("daily", executor_def=dg.in_process_executor)],
).resolve_job_def("daily")


def _planned(instance: dg.DagsterInstance) -> int:
    return len(
        instance.get_event_records(
            dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        )
    )


def _materializations(instance: dg.DagsterInstance, name: str) -> int:
    return len(
        instance.get_event_records(
            dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION, dg.AssetKey(name))
        )
    )


@pytest.mark.integration
def test_with_the_project_setting_a_range_run_plans_each_asset_once(tmp_path, monkeypatch):
    # SQLite storage, as `make demo` and a default instance use (the in-memory one records a
    # range as one event either way). Without the setting: one planned event per asset per day.
    monkeypatch.delenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", raising=False)
    (tmp_path / "default").mkdir()
    default = dg.DagsterInstance.local_temp(str(tmp_path / "default"))
    assert JOB.execute_in_process(instance=default, tags=RANGE).success
    assert _planned(default) == 5 * 5
    plan_ranges_as_one_event()  # as loading the definitions does
    (tmp_path / "project").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "project"))
    assert JOB.execute_in_process(instance=instance, tags=RANGE).success
    assert _planned(instance) == 5  # one per asset, not 5 assets x 5 days
    materialized = instance.get_materialized_partitions(dg.AssetKey("features"))
    assert len(materialized) == 5  # every day still recorded as materialised
    # The unpartitioned assets between the partitioned ones run once in the same run.
    assert _materializations(instance, "lookup") == _materializations(instance, "model") == 1
