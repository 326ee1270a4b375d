"""What the ML assets show in the UI: per task a table of our model, each baseline and the
previous champion (rounded) with the decision; scores' tiers and distributions against the
previous scoring day."""

import dagster as dg
import duckdb

from pipeline.lib.reporting import model_runs as run_report
from pipeline.lib.reporting import scores as score_report
from pipeline.lib.reporting.plots import markdown_image


def model_run_metadata(
    con: duckdb.DuckDBPyConnection, version: str, champions_before: dict[str, dict]
) -> dict:
    """`<task>_metrics` (a table: contenders × metrics) and `<task>_decision` per task."""
    metadata = {}
    for row in run_report.run_rows(con, version):
        task = row["task"]
        metadata[f"{task}_decision"] = row["decision"]
        if not row["metrics"]:
            continue
        metrics, records = run_report.comparison(row, champions_before.get(task))
        schema = dg.TableSchema(
            columns=[dg.TableColumn("contender", "string")]
            + [dg.TableColumn(m, "float") for m in metrics]
        )
        metadata[f"{task}_metrics"] = dg.MetadataValue.table(
            [dg.TableRecord(r) for r in records], schema=schema
        )
    return metadata


def score_metadata(con: duckdb.DuckDBPyConnection, as_of) -> dict:
    """Tier counts today against the previous scoring day, and the score distributions."""
    tiers = score_report.tier_counts(con, as_of)
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("score", "string"),
            dg.TableColumn("tier", "string"),
            dg.TableColumn("today", "int"),
            dg.TableColumn("previous_day", "int"),
            dg.TableColumn("change", "int"),
        ]
    )
    records = [
        dg.TableRecord({k: (v if isinstance(v, str) else int(v)) for k, v in row.items()})
        for row in tiers.to_dict("records")
    ]
    previous = score_report.previous_day(con, as_of)
    return {
        "previous_as_of_date": str(previous) if previous else "none",
        "tiers_vs_previous_day": dg.MetadataValue.table(records, schema=schema),
        "score_distributions": dg.MetadataValue.md(
            markdown_image(score_report.distribution_plot(con, as_of), "score distributions")
        ),
    }
