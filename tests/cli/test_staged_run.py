"""A range run in stages: partitioned assets by range, the rest once, in dependency order."""

import dagster as dg
import pytest

from pipeline.cli.staged_run import CombinedResult, partitioning_stages, run_in_stages
from pipeline.defs import record_ranges_in_few_writes
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


def _names(keys) -> list[str]:
    return sorted(k.to_user_string() for k in keys)


def test_stages_alternate_in_dependency_order():
    stages = [(partitioned, _names(keys)) for partitioned, keys in partitioning_stages(JOB)]
    assert stages == [
        (True, ["raw"]),
        (False, ["lookup", "model"]),
        (True, ["features", "scores"]),
    ]


def _planned(instance: dg.DagsterInstance) -> int:
    return len(
        instance.get_event_records(
            dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        )
    )


@pytest.mark.integration
def test_a_staged_range_plans_each_asset_once_per_partition_it_has(tmp_path, monkeypatch):
    # SQLite storage, as `make demo` and a default instance use: without the project's setting
    # it records one planned event per partition (the in-memory storage records a range as one).
    monkeypatch.delenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", raising=False)
    (tmp_path / "staged").mkdir()
    (tmp_path / "one_run").mkdir()
    staged = dg.DagsterInstance.local_temp(str(tmp_path / "staged"))
    labels = []

    def execute(job, keys, tags, label):
        labels.append((label, tags == RANGE))
        return job.execute_in_process(instance=staged, asset_selection=keys, tags=tags)

    result = CombinedResult(run_in_stages(JOB, RANGE, execute))
    assert result.success and len(result.results) == 3
    assert [tagged for _, tagged in labels] == [True, False, True]
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {
        "raw", "lookup", "model", "features", "scores",
    }  # fmt: skip
    one_run = dg.DagsterInstance.local_temp(str(tmp_path / "one_run"))
    assert JOB.execute_in_process(instance=one_run, tags=RANGE).success
    # One range run whose plan ends on a partitioned asset plans every asset, partitioned or
    # not, for every day (upstream Dagster); staged, the unpartitioned ones are planned once.
    assert _planned(one_run) == 5 * 5
    assert _planned(staged) == 3 * 5 + 2


@pytest.mark.integration
def test_with_the_project_setting_a_range_run_plans_each_asset_once(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", raising=False)
    record_ranges_in_few_writes()  # as loading the definitions does
    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    assert JOB.execute_in_process(instance=instance, tags=RANGE).success
    assert _planned(instance) == 5  # one per asset, not 5 assets x 5 days
    materialized = instance.get_materialized_partitions(dg.AssetKey("features"))
    assert len(materialized) == 5  # every day still recorded as materialised


def test_a_failed_stage_stops_the_rest():
    calls = []

    def execute(job, keys, tags, label):
        calls.append(label)
        return CombinedResult([])  # no run: reads as a failure

    assert run_in_stages(JOB, RANGE, execute) and len(calls) == 1
