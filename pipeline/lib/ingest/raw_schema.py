"""The raw and quarantine tables of a `RecordSpec`, created and kept in step with the spec.

Grain: `<schema>.<table>` one row per source key (typed columns, the record as JSON, when and by
which run it last changed); `<schema>.<table>_quarantine` one row per (bad record, reason).
"""

from __future__ import annotations

import duckdb

from pipeline.lib.ingest.raw_records import RecordSpec
from pipeline.lib.ingest.record_sql import column_sql


def ensure_tables(con: duckdb.DuckDBPyConnection, spec: RecordSpec) -> None:
    """Create the raw and quarantine tables, and add (and fill) typed columns added to the spec
    since the table was made, so a new column never requires a reload."""
    con.execute(f"create schema if not exists {spec.schema}")
    # ZSTD for the record: for 1 KB JSON it measured 4x smaller and 1.7x faster to write than
    # DuckDB's default string compression, with the same scan speed.
    typed = "".join(f"{c.name} {c.type}, " for c in spec.columns)
    con.execute(
        f"""create table if not exists {spec.name} (
            {spec.key.name} {spec.key.type} primary key, {typed}
            record json not null using compression zstd,
            _loaded_at timestamp not null, _run_id varchar not null)"""
    )
    con.execute(
        f"""create table if not exists {spec.quarantine} (
            _quarantine_key varchar not null, source_id varchar, reason varchar not null,
            payload json not null, _loaded_at timestamp not null, _run_id varchar not null,
            primary key (_quarantine_key, reason))"""
    )
    existing = {
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [spec.schema, spec.table],
        ).fetchall()
    }
    for column in spec.columns:
        if column.name not in existing:
            con.execute(f"alter table {spec.name} add column {column.name} {column.type}")
            con.execute(f"update {spec.name} set {column.name} = {column_sql(column, 'record')}")
