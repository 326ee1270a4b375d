"""A job over many daily partitions as a few runs: partitioned stages by range, the rest once.

A run tagged with a partition range records every asset check it plans once per partition of
the range, partitioned asset or not (an upstream Dagster behaviour; planned materialisations are
one per asset thanks to the project's setting, see `pipeline.defs`). The daily job has some 280
checks, mostly dbt tests on models rebuilt whole, so one range run over two years wrote 205,867
check rows and spent a minute before its first step at 10,000 customers. Here the job's assets
are cut, in dependency order, into alternating stages: assets that are daily-partitioned run as
one range run (one pass over the range, as a backfill does), and the unpartitioned assets
between them (the dbt models rebuilt whole, training, scoring, segments, syncs) run once,
untagged. A stage starts only when the one before succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dagster as dg


def partitioning_stages(job: dg.JobDefinition) -> list[tuple[bool, list[dg.AssetKey]]]:
    """(partitioned, asset keys) per stage, in the order they must run.

    Each asset joins the earliest stage after all its parents' stages whose partitioning
    matches its own; stages alternate partitioned (even) and unpartitioned (odd).
    """
    graph = job.asset_layer.asset_graph
    selected = set(job.asset_layer.executable_asset_keys)
    stage_of: dict[dg.AssetKey, int] = {}
    for key in graph.toposorted_asset_keys:
        if key not in selected:
            continue
        partitioned = graph.get(key).is_partitioned
        parents = [stage_of[p] for p in graph.get(key).parent_keys if p in stage_of]
        earliest = max(parents, default=0)
        stage_of[key] = earliest if (earliest % 2 == 0) == partitioned else earliest + 1
    stages: dict[int, list[dg.AssetKey]] = {}
    for key, stage in stage_of.items():
        stages.setdefault(stage, []).append(key)
    return [(stage % 2 == 0, keys) for stage, keys in sorted(stages.items())]


def run_in_stages(
    job: dg.JobDefinition,
    range_tags: dict[str, str],
    execute: Callable[[dg.JobDefinition, Sequence[dg.AssetKey], dict[str, str], str], object],
) -> list:
    """Run each stage with `execute(job, keys, tags, label)`; stop after a failed one."""
    results = []
    stages = partitioning_stages(job)
    for number, (partitioned, keys) in enumerate(stages, start=1):
        label = f"stage {number}/{len(stages)}: {len(keys)} " + (
            "partitioned assets over the range" if partitioned else "assets, once"
        )
        result = execute(job, keys, range_tags if partitioned else {}, label)
        results.append(result)
        if not result.success:
            break
    return results


class CombinedResult:
    """The runs of one staged job read as one result: success, events and checks of them all."""

    def __init__(self, results: Sequence[dg.ExecuteInProcessResult]) -> None:
        self.results = list(results)

    @property
    def success(self) -> bool:
        return bool(self.results) and all(r.success for r in self.results)

    @property
    def run_id(self) -> str:
        """The first run's id, and how many runs followed it."""
        more = len(self.results) - 1
        return self.results[0].run_id[:8] + (f" + {more} more" if more else "")

    def get_asset_materialization_events(self) -> list:
        return [e for r in self.results for e in r.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list:
        return [c for r in self.results for c in r.get_asset_check_evaluations()]
