"""The marketer's page for one daily run: one self-contained HTML file (plots inline).

Sections: segments and their movement since the previous run, email KPIs per segment, holdout
lift with its 95% interval, score distributions and tiers against the previous scoring day, and
what each sync did in its latest run. A table not built yet (a shop's first run, a platform not
configured) shows as "not available yet" instead of failing the report.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.lib.reporting import scores as score_report
from pipeline.lib.reporting import segments as segment_report
from pipeline.lib.reporting.plots import data_url

KPIS_SQL = """
select segment, window_days, members, holdout_members, email_sends, recipients, open_rate,
    click_rate, conversion_rate, revenue_per_recipient, unsubscribe_rate
from marts.segment_kpis order by segment, window_days
"""
LIFT_SQL = """
select segment, window_days, treated_members, holdout_members, treated_conversion_rate,
    holdout_conversion_rate, conversion_lift, conversion_lift_ci_low, conversion_lift_ci_high,
    revenue_per_member_lift, revenue_per_member_lift_ci_low, revenue_per_member_lift_ci_high,
    is_conversion_lift_significant
from marts.holdout_lift order by segment, window_days
"""
SYNCED_SQL = """
with latest as (
    select destination, arg_max(run_id, recorded_at) as run_id, max(recorded_at) as recorded_at
    from activation.sync_ledger group by destination
)
select ledger.destination, latest.recorded_at as synced_at, ledger.action, ledger.outcome,
    count(*) as rows
from activation.sync_ledger as ledger
inner join latest on ledger.destination = latest.destination and ledger.run_id = latest.run_id
group by all order by all
"""
STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0 24px}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}img{max-width:100%}
</style>"""


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame | None:
    try:
        return con.execute(sql).df()
    except duckdb.CatalogException:
        return None


def _table(frame: pd.DataFrame | None) -> str:
    if frame is None or frame.empty:
        return "<p><em>Not available yet.</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _image(image: bytes | None, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="{data_url(image)}">' if image else ""


def build_daily_report(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[Path, date]:
    """Write `daily-<as_of>.html` into `folder` (a re-run of the day replaces it)."""
    as_of = segment_report.as_of_date(con)
    movement = segment_report.segment_movement(con)
    sizes = segment_report.segment_sizes_over_time(con)
    records = pd.DataFrame(segment_report.segment_table_records(movement))
    scored = _frame(con, f"select max(as_of_date) as day from {score_report.SCORES}")
    scored_on = None if scored is None or pd.isna(scored["day"][0]) else scored["day"][0].date()
    parts = [
        f"<h1>Foresight daily report, as of {as_of}</h1>",
        "<h2>Segments and movement since the previous run</h2>",
        _table(records),
        _image(segment_report.sizes_plot(sizes) if not sizes.empty else None, "segment sizes"),
        "<h2>Email KPIs per segment</h2>",
        _table(_frame(con, KPIS_SQL)),
        "<h2>Holdout lift (treated minus holdout, 95% interval)</h2>",
        _table(_frame(con, LIFT_SQL)),
        f"<h2>Scores as of {scored_on}: tiers against the previous scoring day</h2>",
        _table(score_report.tier_counts(con, scored_on) if scored_on else None),
        _image(score_report.distribution_plot(con, scored_on) if scored_on else None, "scores"),
        "<h2>What was synced (latest run per destination)</h2>",
        _table(_frame(con, SYNCED_SQL)),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"daily-{as_of}.html"
    path.write_text(f"<!doctype html><meta charset=utf-8>{STYLE}" + "".join(parts))
    return path, as_of
