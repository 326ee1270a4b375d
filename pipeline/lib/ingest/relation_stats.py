"""Row counts and column types of warehouse relations, read in one pass after a build.

Grain: one `RelationStats` per (schema, name). What the UI shows beside each dbt model: its
columns with their DuckDB types, and for tables (not views, whose count would re-run their
query) the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class RelationStats:
    columns: list[tuple[str, str]]  # (name, type) in column order
    row_count: int | None  # None for a view


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def relation_stats(
    con: duckdb.DuckDBPyConnection, relations: list[tuple[str, str]]
) -> dict[tuple[str, str], RelationStats]:
    """Stats of each (schema, name) that exists; relations not in the warehouse are left out."""
    wanted_keys = set(relations)
    schemas = sorted({schema for schema, _ in wanted_keys})
    if not schemas:
        return {}
    found = con.execute(
        "select table_schema, table_name, table_type = 'VIEW' from information_schema.tables"
        " where table_schema in (select unnest(?))",
        [schemas],
    ).fetchall()
    wanted = [
        (schema, name, is_view) for schema, name, is_view in found if (schema, name) in wanted_keys
    ]
    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, name, column, data_type in con.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        " where table_schema in (select unnest(?)) order by ordinal_position",
        [schemas],
    ).fetchall():
        if (schema, name) in wanted_keys:
            columns.setdefault((schema, name), []).append((column, data_type))
    tables = [(schema, name) for schema, name, is_view in wanted if not is_view]
    counts: dict[tuple[str, str], int] = {}
    if tables:
        union = " union all ".join(
            f"select {i} as i, count(*) as n from {_quote(schema)}.{_quote(name)}"
            for i, (schema, name) in enumerate(tables)
        )
        counts = {tables[i]: n for i, n in con.execute(union).fetchall()}
    return {
        (schema, name): RelationStats(columns.get((schema, name), []), counts.get((schema, name)))
        for schema, name, _ in wanted
    }
