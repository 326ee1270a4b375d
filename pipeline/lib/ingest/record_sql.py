"""DuckDB SQL that reads a raw table's typed columns out of records and validates them.

Grain: one SELECT per batch of records (`staging_sql`), one output row per record with every
typed column of its `RecordSpec` and the reasons it would be quarantined. Extraction and
validation run in SQL over the records' JSON text, so a batch is checked in one vectorised pass,
not in a Python loop. dbt's `to_utc_timestamp` macro parses timestamps the same way.
"""

from __future__ import annotations

from pipeline.lib.erasure.keys import hash_sql
from pipeline.lib.ingest.raw_records import Column, RecordSpec

# A time of day followed by an explicit offset ("Z", "+05:30", "-0500"). Such values are parsed as
# instants and converted to UTC; values without one are already UTC by the warehouse's convention.
# Testing the text (not the session time zone) keeps results the same on every machine.
_OFFSET_PATTERN = r"\d:\d\d(:\d\d(\.\d+)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?)$"
_BLANK = " \t\r\n"


def json_path(path: str) -> str:
    """A DuckDB JSON path for a dotted path; every key quoted, so "$value" stays a plain key."""
    return "$" + "".join(f'."{part}"' for part in path.split("."))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed(column: Column, raw: str) -> str:
    """SQL turning the extracted text `raw` into the column's type (NULL when it does not parse)."""
    if column.type == "varchar":
        return raw
    if column.type == "timestamp":
        return (
            f"case when regexp_matches({raw}, {_literal(_OFFSET_PATTERN)}) "
            f"then timezone('UTC', try_cast({raw} as timestamptz)) "
            f"else try_cast({raw} as timestamp) end"
        )
    if column.type == "double":
        # NaN and infinity cast fine but are no amount a shop ever charged.
        number = f"try_cast({raw} as double)"
        return f"case when isfinite({number}) then {number} end"
    return f"try_cast({raw} as {column.type})"


def _present(text: str) -> str:
    """Blank text counts as missing: a CSV's empty cell or an id of "" identifies nothing."""
    return f"(case when trim({text}, {_literal(_BLANK)}) <> '' then {text} end)"


def column_sql(column: Column, record: str) -> str:
    """SQL for one typed column read from the JSON expression `record` (NULL if absent/bad)."""
    return _typed(
        column, _present(f"json_extract_string({record}, {_literal(json_path(column.path))})")
    )


_PROBLEM = {
    "timestamp": "unparsable timestamp",
    "double": "non-numeric",
    "bigint": "non-integer",
    "boolean": "non-boolean",
}


def staging_sql(spec: RecordSpec, source: str) -> str:
    """A SELECT over `source` (columns `_ord`, `_error`, `record` as JSON text) giving `_ord`,
    every typed column and `_reason`: NULL for a good record, else every problem found
    ("missing id; non-numeric $value"), so a quarantined row says all that is wrong with it.

    The record itself is left out: callers join it back by `_ord` where they write it, which is
    cheaper than copying every record's text through one more table."""
    columns = spec.all_columns
    paths = ", ".join(_literal(json_path(c.path)) for c in columns)
    # Each step is its own projection so every value is extracted and cast once, not once for
    # each place that reads it.
    present = ", ".join(f"{_present(f'_v[{i}]')} as _raw_{i}" for i in range(1, len(columns) + 1))
    typed = ", ".join(f"{_typed(c, f'_raw_{i}')} as {c.name}" for i, c in enumerate(columns, 1))
    checks = []
    for i, column in enumerate(columns, start=1):
        if column.required:
            checks.append(
                f"case when _raw_{i} is null then {_literal('missing ' + column.label)} end"
            )
        if column.type != "varchar":
            problem = _literal(f"{_PROBLEM[column.type]} {column.label}")
            checks.append(
                f"case when _raw_{i} is not null and {column.name} is null then {problem} end"
            )
        if column.max_abs is not None:
            problem = _literal(f"out-of-range {column.label} (|value| >= {column.max_abs:g})")
            checks.append(f"case when abs({column.name}) >= {column.max_abs!r} then {problem} end")
    return f"""
        select _ord, {", ".join(c.name for c in columns)},
            coalesce(_error, nullif(concat_ws('; ', {", ".join(checks)}), '')) as _reason
        from (
            select *, {typed} from (
                select _ord, _error, {present}
                from (select *, json_extract_string(record, [{paths}]) as _v from {source})
            )
        )
    """


def erased_records_sql(spec: RecordSpec, source: str, erased: str) -> str:
    """A SELECT of the `_ord` of every record in `source` (as `staging_sql` reads it) with an
    identifier whose salted hash (salt: parameter `$salt`) is in `erased`'s `key_hash` column.

    One hash join over the batch, not a Python loop: each record's identifiers are hashed in
    SQL, unnested to one row each, and matched against the erased hashes."""
    hashes = ", ".join(
        hash_sql(i.kind, f"json_extract_string(record, {_literal(json_path(i.path))})")
        for i in spec.identifiers
    )
    return f"""
        select distinct _ord
        from (select _ord, unnest([{hashes}]) as key_hash from {source})
        where key_hash in (select key_hash from {erased})
    """
