"""Keyset pagination over any SQL query, as Klaviyo's cursor pages: a page's cursor holds the
sort key of its last (or, going back, first) row, so pages stay stable while rows are added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from sandbox.klaviyo.jsonapi import PageCursor


@dataclass(frozen=True)
class Order:
    """A keyset order: SQL key expressions (non-null, last one unique) with their SQL types."""

    keys: tuple[tuple[str, str], ...]
    descending: bool = False


def keyset_page(
    cur: duckdb.DuckDBPyConnection,
    sql: str,
    params: list[Any],
    order: Order,
    sort_token: str,
    cursor: PageCursor | None,
    size: int,
) -> tuple[list[dict[str, Any]], PageCursor | None, PageCursor | None]:
    """One page of `sql` in `order` after/before `cursor`; returns (rows, next, prev) cursors.

    Two passes: the first orders only the key columns and takes `size + 1` (the extra one tells
    whether another page exists); the second reads full rows for just that page. Views build
    expensive columns (JSON, joins) that sorting every remaining row would otherwise pay for.
    """
    backwards = bool(cursor and cursor.backwards)
    desc = order.descending != backwards
    names = [f"_k{i}" for i in range(len(order.keys))]
    keyed = ", ".join(f"{expr} as {n}" for (expr, _), n in zip(order.keys, names, strict=True))
    source = f"(select q.*, {keyed} from ({sql}) as q) as k"
    query, args = f"select {', '.join(names)} from {source}", list(params)
    if cursor is not None:
        condition, values = _after(names, [t for _, t in order.keys], cursor.key, desc)
        query += f" where {condition}"
        args += values
    direction = "desc" if desc else "asc"
    query += f" order by {', '.join(f'{n} {direction}' for n in names)} limit {size + 1}"
    keys = cur.execute(query, args).fetchall()
    more = len(keys) > size
    keys = keys[:size]
    if backwards:
        keys.reverse()
    if not keys:
        return [], None, None
    # The last key is unique, so it identifies the rows; the leading-key range prunes the scan.
    leading = [k[0] for k in keys]
    first_type = order.keys[0][1]
    result = cur.execute(
        f"select * from {source} where list_contains(?, {names[-1]})"
        f" and {names[0]} between ?::{first_type} and ?::{first_type}",
        [*params, [k[-1] for k in keys], min(leading), max(leading)],
    )
    columns = [d[0] for d in result.description]
    by_id = {}
    for values in result.fetchall():
        row = dict(zip(columns, values, strict=True))
        by_id[row[names[-1]]] = row
    rows = []
    for key in keys:
        row = by_id[key[-1]]
        for name in names:
            del row[name]
        rows.append(row)
    has_next = True if backwards else more
    has_prev = more if backwards else cursor is not None
    next_cursor = PageCursor(sort_token, tuple(keys[-1])) if has_next else None
    prev_cursor = PageCursor(sort_token, tuple(keys[0]), backwards=True) if has_prev else None
    return rows, next_cursor, prev_cursor


def _after(
    names: list[str], types: list[str], key: tuple[Any, ...], desc: bool
) -> tuple[str, list[Any]]:
    """SQL for "the key tuple comes after `key`", spelled out lexicographically.

    The extra bound on the leading key lets DuckDB skip row groups by their min/max, which a
    row-value comparison does not (about 4x faster on a million events).
    """
    op = "<" if desc else ">"
    cast = [f"?::{t}" for t in types]
    terms, values = [], []
    for i, name in enumerate(names):
        equal = [f"{names[j]} = {cast[j]}" for j in range(i)]
        terms.append(" and ".join([*equal, f"{name} {op} {cast[i]}"]))
        values += [*key[:i], key[i]]
    return f"({names[0]} {op}= {cast[0]}) and (({') or ('.join(terms)}))", [key[0], *values]
