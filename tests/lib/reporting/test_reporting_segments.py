"""Segment movement: sizes, entries, exits and change against the previous run, from the
history's changes alone; sizes over time as a running sum."""

from __future__ import annotations

import duckdb

from pipeline.lib.alerts.rules import segment_jumps
from pipeline.lib.reporting.segments import (
    segment_movement,
    segment_sizes_over_time,
    segment_table_records,
    sizes_plot,
)
from tests.segment_tables import TODAY, YESTERDAY, write_segments


def test_movement_counts_entries_exits_and_the_previous_size():
    con = duckdb.connect()
    write_segments(con, vip_before=100, vip_left=60)
    movement = segment_movement(con).set_index("segment")
    vip = movement.loc["vip"]
    assert (vip.members, vip.holdout, vip.entered, vip.exited) == (45, 1, 5, 60)
    assert vip.previous_members == 100 and vip.change == -55
    assert abs(vip.change_share + 0.55) < 1e-9
    assert movement.loc["active"].members == 2
    records = {r["segment"]: r for r in segment_table_records(movement.reset_index())}
    assert records["vip"]["change"] == "-55" and records["vip"]["change_pct"] == "-55.0%"


def test_a_jump_beyond_the_limit_is_found_and_small_segments_are_not_judged():
    con = duckdb.connect()
    write_segments(con, vip_before=100, vip_left=60)
    jumps = segment_jumps(segment_movement(con), max_change_share=0.5, min_previous_members=50)
    assert jumps == ["segment vip: 100 -> 45 members (-55%; 5 entered, 60 exited)"]
    write_segments(con, vip_before=100, vip_left=10)
    assert segment_jumps(segment_movement(con), 0.5, 50) == []


def test_sizes_over_time_are_the_running_members_per_day():
    con = duckdb.connect()
    write_segments(con, vip_before=100, vip_left=60)
    sizes = segment_sizes_over_time(con)
    vip = dict(zip(sizes[sizes.segment == "vip"].as_of_date.dt.date,
                   sizes[sizes.segment == "vip"].members, strict=True))  # fmt: skip
    assert vip == {YESTERDAY: 100, TODAY: 45}
    assert sizes_plot(sizes).startswith(b"\x89PNG")


def test_a_first_run_has_no_change_to_report():
    con = duckdb.connect()
    write_segments(con, vip_before=0, vip_left=0)
    con.execute("delete from marts.segment_history where segment = 'active'")
    con.execute("delete from marts.customer_segments where segment = 'active'")
    movement = segment_movement(con)
    assert not movement.has_previous_run.any()
    assert segment_table_records(movement)[0]["change"] == "first run"
    assert segment_jumps(movement, 0.5, 0) == []
