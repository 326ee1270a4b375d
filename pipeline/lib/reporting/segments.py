"""Segment sizes and movement, from `marts.customer_segments` and `marts.segment_history`.

Grain of `segment_movement`: one row per segment present today or left empty today: today's
members, holdout members, marketable share, entries and exits on today's as-of date, and the
change against the previous run. `segment_history` records only changes, so the previous run's
size is today's members minus today's entries plus today's exits.

Grain of `segment_sizes_over_time`: one row per (as_of_date, segment) on every date the history
recorded a change, as the running sum of entries minus exits.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pipeline.lib.reporting.plots import png, subplots

MOVEMENT_SQL = """
with run as (
    select max(as_of_date) as as_of_date from marts.customer_segments
),
today as (
    select segment, count(*) as members, count(*) filter (where is_holdout) as holdout,
        avg(case when is_marketable then 1.0 else 0.0 end) as marketable_share
    from marts.customer_segments group by segment
),
moves as (
    select segment,
        count(*) filter (where entered_at = run.as_of_date and exited_at is null) as entered,
        count(*) filter (where exited_at = run.as_of_date and entered_at < run.as_of_date)
            as exited,
        count(*) filter (where entered_at < run.as_of_date) as recorded_before
    from marts.segment_history cross join run group by segment
)
select coalesce(today.segment, moves.segment) as segment,
    coalesce(today.members, 0) as members, coalesce(today.holdout, 0) as holdout,
    coalesce(moves.entered, 0) as entered, coalesce(moves.exited, 0) as exited,
    coalesce(today.members, 0) - coalesce(moves.entered, 0) + coalesce(moves.exited, 0)
        as previous_members,
    today.marketable_share,
    coalesce(moves.recorded_before, 0) > 0 as has_previous_run
from today full outer join moves on today.segment = moves.segment
where coalesce(today.members, 0) > 0 or coalesce(moves.exited, 0) > 0
order by segment
"""

SIZES_SQL = """
with deltas as (
    select segment, entered_at as as_of_date, 1 as delta from marts.segment_history
    union all
    select segment, exited_at, -1 from marts.segment_history where exited_at is not null
),
per_day as (
    select segment, as_of_date, sum(delta) as delta from deltas group by all
)
select as_of_date, segment,
    sum(delta) over (partition by segment order by as_of_date) as members
from per_day order by as_of_date, segment
"""


def as_of_date(con: duckdb.DuckDBPyConnection):
    (day,) = con.execute("select max(as_of_date) from marts.customer_segments").fetchone()
    return day


def segment_movement(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Today's segment table (see the module docstring), with `change` and `change_share`
    (change over the previous size; null where the previous size was 0 or there was none)."""
    frame = con.execute(MOVEMENT_SQL).df()
    frame["change"] = frame["members"] - frame["previous_members"]
    previous = frame["previous_members"].where(frame["previous_members"] > 0)
    frame["change_share"] = (frame["change"] / previous).where(frame["has_previous_run"])
    return frame


def segment_sizes_over_time(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(SIZES_SQL).df()


def sizes_plot(sizes: pd.DataFrame) -> bytes:
    """Members per segment over the recorded dates, one line per segment."""
    fig, ax = subplots(figsize=(8, 4.5))
    for segment, rows in sizes.groupby("segment"):
        # Markers: a first run has one date, which a bare line would not show.
        ax.step(rows["as_of_date"], rows["members"], where="post", marker="o", label=segment)
    ax.set(xlabel="as-of date", ylabel="members", title="Segment sizes over time")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.autofmt_xdate()
    return png(fig)


def segment_table_records(movement: pd.DataFrame) -> list[dict]:
    """Rows for display: counts as integers, shares rounded to a percent with one decimal."""

    def percent(value) -> str:
        return "" if pd.isna(value) else f"{value:+.1%}"

    return [
        {
            "segment": row.segment,
            "members": int(row.members),
            "holdout": int(row.holdout),
            "entered": int(row.entered),
            "exited": int(row.exited),
            "change": f"{int(row.change):+d}" if row.has_previous_run else "first run",
            "change_pct": percent(row.change_share),
            "marketable": "" if pd.isna(row.marketable_share) else f"{row.marketable_share:.0%}",
        }
        for row in movement.itertuples()
    ]
