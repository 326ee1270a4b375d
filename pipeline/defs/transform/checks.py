"""Checks on the segments the sync activates: a segment whose size jumps between two runs is
worth a person's look before (or soon after) the platforms act on it."""

import dagster as dg

from pipeline.defs.resources import WarehouseResource
from pipeline.lib.alerts.rules import segment_jumps
from pipeline.lib.reporting.segments import segment_movement

SEGMENTS = dg.AssetKey(["marts", "customer_segments"])


class SegmentJumpConfig(dg.Config):
    max_change_share: float = 0.5
    """A segment growing or shrinking by more than this share of its previous size fails."""
    min_previous_members: int = 50
    """Segments smaller than this before are not judged: a few people are a large share."""


@dg.asset_check(asset=SEGMENTS, pool="duckdb")
def segment_sizes_within_limit(
    config: SegmentJumpConfig, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Each segment's size against the previous run: warns (and alerts) beyond the limit."""
    with warehouse.connect(read_only=True) as con:
        jumps = segment_jumps(
            segment_movement(con), config.max_change_share, config.min_previous_members
        )
    return dg.AssetCheckResult(
        passed=not jumps,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"findings": "\n".join(jumps) or "none", "segments_jumped": len(jumps)},
    )


segment_checks = [segment_sizes_within_limit]
