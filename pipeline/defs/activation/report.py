"""What the marketer opens: segment sizes and movement per run, and the daily report page.

`reports/segment_sizes`: one table per run (grain: one row per segment: members, holdout,
entries, exits, change against the previous run, marketable share) and the sizes over time.
`reports/daily_report`: the HTML page of the run (segments, KPIs, holdout lift, scores, syncs),
written under the artefacts folder and linked from the asset.
"""

import dagster as dg

from pipeline.defs.resources import WarehouseResource
from pipeline.lib.reporting import segments as segment_report
from pipeline.lib.reporting.daily_report import build_daily_report
from pipeline.lib.reporting.plots import markdown_image
from pipeline.lib.settings import artefacts_dir

OWNERS = ["team:data"]
SEGMENTS = dg.AssetKey(["marts", "customer_segments"])
HISTORY = dg.AssetKey(["marts", "segment_history"])
SEGMENT_COLUMNS = [
    ("segment", "string", "segment name (rules in marts/customer_segments)"),
    ("members", "int", "current members, holdout included"),
    ("holdout", "int", "members held out of every send"),
    ("entered", "int", "entered on this run's as-of date"),
    ("exited", "int", "left on this run's as-of date"),
    ("change", "string", "members minus the previous run's"),
    ("change_pct", "string", "change over the previous run's size"),
    ("marketable", "string", "share of members who may be emailed marketing"),
]


@dg.asset(
    key=["reports", "segment_sizes"],
    deps=[SEGMENTS, HISTORY],
    group_name="transform",
    kinds={"duckdb", "table"},
    owners=OWNERS,
    pool="duckdb",
)
def segment_sizes(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Segment sizes this run: per segment, members, holdout, entries, exits, change against
    the previous run and marketable share, plus a plot of sizes over time (from
    `marts.segment_history`). Grain of the table: one row per segment."""
    with warehouse.connect(read_only=True) as con:
        as_of = segment_report.as_of_date(con)
        movement = segment_report.segment_movement(con)
        sizes = segment_report.segment_sizes_over_time(con)
    records = segment_report.segment_table_records(movement)
    schema = dg.TableSchema(
        columns=[dg.TableColumn(n, t, description=d) for n, t, d in SEGMENT_COLUMNS]
    )
    metadata = {
        "as_of_date": str(as_of),
        "segments": dg.MetadataValue.table([dg.TableRecord(r) for r in records], schema=schema),
        "total_memberships": int(movement["members"].sum()),
        "entered": int(movement["entered"].sum()),
        "exited": int(movement["exited"].sum()),
    }
    if not sizes.empty:
        plot = segment_report.sizes_plot(sizes)
        metadata["sizes_over_time"] = dg.MetadataValue.md(markdown_image(plot, "segment sizes"))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["reports", "daily_report"],
    deps=[
        dg.AssetKey(["reports", "segment_sizes"]),
        dg.AssetKey(["marts", "segment_kpis"]),
        dg.AssetKey(["marts", "holdout_lift"]),
        dg.AssetKey(["activation", "klaviyo_sync"]),
        dg.AssetKey(["activation", "mailchimp_sync"]),
    ],
    group_name="activation",
    kinds={"html"},
    owners=OWNERS,
    pool="duckdb",
)
def daily_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The marketer's page for the run: segments and their movement, email KPIs per segment,
    holdout lift with its interval, score distributions and tiers against the previous day,
    and what was synced. One HTML file per as-of date (a re-run replaces it)."""
    with warehouse.connect(read_only=True) as con:
        path, as_of = build_daily_report(con, artefacts_dir() / "reports")
    return dg.MaterializeResult(
        metadata={
            "as_of_date": str(as_of),
            "report": dg.MetadataValue.path(str(path)),
            "open_report": dg.MetadataValue.url(path.resolve().as_uri()),
        }
    )


report_assets = [segment_sizes, daily_report]
