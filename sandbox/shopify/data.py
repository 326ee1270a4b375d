"""Reads the store views for the Shopify emulator: keyset pagination and batched lookups.

Every paginated read is one SQL query that filters, orders and limits in DuckDB, keyed on
(sort value, id) so pages never skip or repeat rows however deep a client pages. Nested
records (line items, variants, customers of orders) are fetched for a whole batch of parents
in one query, never one query per parent.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.shopify.resources import Resource, ValueKind
from sandbox.shopify.search import SearchFilter

_DECODERS: dict[ValueKind, Callable[[Any], Any]] = {
    "timestamp": datetime.fromisoformat,
    "int": int,
    "decimal": Decimal,
    "text": str,
}


class CursorError(ValueError):
    """A cursor that this server did not issue for this connection and sort."""


@dataclass(frozen=True)
class Window:
    """The connection arguments that select a page (already checked by the caller)."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    reverse: bool = False


@dataclass
class Page:
    """One page of rows with their cursors and Relay page info."""

    rows: list[dict[str, Any]]
    cursors: list[str]
    has_next: bool = False
    has_previous: bool = False


def encode_cursor(row_id: int, value: Any) -> str:
    """Opaque cursor in Shopify's own shape: base64 of {"last_id": ..., "last_value": ...}."""
    if isinstance(value, datetime | Decimal):
        value = str(value)
    payload = json.dumps({"last_id": row_id, "last_value": value}, separators=(",", ":"))
    return base64.b64encode(payload.encode()).decode()


def decode_cursor(cursor: str, kind: ValueKind) -> tuple[int, Any]:
    """The (id, sort value) a cursor points at; CursorError when it is not one of ours."""
    try:
        payload = json.loads(base64.b64decode(cursor, validate=True))
        return int(payload["last_id"]), _DECODERS[kind](payload["last_value"])
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise CursorError(cursor) from exc


def fetch_rows(cur: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts keyed by column name."""
    result = cur.execute(sql, list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def stream_rows(
    cur: Any, resource: Resource, sort: str, reverse: bool, search: SearchFilter, batch: int
) -> Iterator[list[dict[str, Any]]]:
    """Every matching row in connection order, `batch` rows at a time, from one query.

    For bulk operations: DuckDB sorts once and hands rows over as they are fetched, so a
    million-row export needs neither a million rows in Python nor a query per page.
    """
    key = resource.sort_keys[sort]
    direction = "DESC" if reverse else "ASC"
    result = cur.execute(
        f"SELECT t.*, {key.sql} AS __sort FROM {resource.source} AS t WHERE {search.sql} "
        f"ORDER BY __sort {direction}, {resource.id_column} {direction}",
        list(search.params),
    )
    names = [d[0] for d in result.description]
    while rows := result.fetchmany(batch):
        yield [dict(zip(names, row, strict=True)) for row in rows]


def fetch_page(
    cur: Any, resource: Resource, sort: str, window: Window, search: SearchFilter
) -> Page:
    """One page of a top-level connection, following the Relay cursor algorithm."""
    key = resource.sort_keys[sort]
    ident = resource.id_column
    inner = f"SELECT t.*, {key.sql} AS __sort FROM {resource.source} AS t"
    ascending = not window.reverse

    def beyond(cursor: str, forward: bool, inclusive: bool) -> tuple[str, list[Any]]:
        row_id, value = decode_cursor(cursor, key.kind)
        op = ">" if forward == ascending else "<"
        id_op = op + ("=" if inclusive else "")
        sql = f"(__sort {op} ? OR (__sort = ? AND {ident} {id_op} ?))"
        return sql, [value, value, row_id]

    where, params = [search.sql], list(search.params)
    for cursor, forward in ((window.after, True), (window.before, False)):
        if cursor is not None:
            clause, values = beyond(cursor, forward, inclusive=False)
            where.append(clause)
            params.extend(values)
    from_last = window.first is None and window.last is not None
    limit = window.last if from_last else window.first
    direction = "ASC" if ascending != from_last else "DESC"
    sql = (
        f"SELECT * FROM ({inner}) AS s WHERE {' AND '.join(where)} "
        f"ORDER BY __sort {direction}, {ident} {direction} LIMIT ?"
    )
    rows = fetch_rows(cur, sql, [*params, (limit or 0) + 1])
    overflow = len(rows) > (limit or 0)
    rows = rows[:limit]
    if from_last:
        rows.reverse()

    def exists(cursor: str | None, forward: bool) -> bool:
        if cursor is None:
            return False
        clause, values = beyond(cursor, forward, inclusive=True)
        check = f"SELECT 1 FROM ({inner}) AS s WHERE {search.sql} AND {clause} LIMIT 1"
        return bool(cur.execute(check, [*search.params, *values]).fetchall())

    return Page(
        rows=rows,
        cursors=[encode_cursor(r[ident], r["__sort"]) for r in rows],
        has_next=(overflow and not from_last) or exists(window.before, True),
        has_previous=(overflow and from_last) or exists(window.after, False),
    )


def paginate_list(
    items: Sequence[tuple[Any, int, Any]], kind: ValueKind, window: Window
) -> tuple[list[Any], list[str], bool, bool]:
    """The same algorithm over an in-memory list of (sort value, id, node) sorted ascending."""
    ordered = list(reversed(items)) if window.reverse else list(items)

    def precedes(a: tuple[Any, int], b: tuple[Any, int]) -> bool:
        return a < b if not window.reverse else a > b

    def mark(cursor: str) -> tuple[Any, int]:
        row_id, value = decode_cursor(cursor, kind)
        return value, row_id

    keys = [(value, row_id) for value, row_id, _ in ordered]
    lo, hi = 0, len(ordered)
    if window.after is not None:
        after = mark(window.after)
        lo = sum(1 for k in keys if not precedes(after, k))
    if window.before is not None:
        before = mark(window.before)
        hi = sum(1 for k in keys if precedes(k, before))
    has_previous, has_next = lo > 0, hi < len(ordered)
    if window.first is not None and hi - lo > window.first:
        hi, has_next = lo + window.first, True
    elif window.first is None and window.last is not None and hi - lo > window.last:
        lo, has_previous = hi - window.last, True
    selected = ordered[lo:hi] if lo < hi else []
    cursors = [encode_cursor(row_id, value) for value, row_id, _ in selected]
    return [node for _, _, node in selected], cursors, has_next, has_previous


def fetch_by_ids(
    cur: Any, source: str, id_column: str, ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """Rows of `source` keyed by id, for every id in `ids`, in one query."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = fetch_rows(cur, f"SELECT * FROM {source} AS t WHERE {id_column} = ANY(?)", [wanted])
    return {r[id_column]: r for r in rows}


def fetch_children(
    cur: Any, source: str, parent_column: str, child_id: str, parent_ids: Iterable[int]
) -> dict[int, list[dict[str, Any]]]:
    """Child rows grouped by parent id (ordered by child id), for all parents in one query."""
    wanted = sorted({i for i in parent_ids if i is not None})
    grouped: dict[int, list[dict[str, Any]]] = {i: [] for i in wanted}
    if wanted:
        sql = f"SELECT * FROM {source} WHERE {parent_column} = ANY(?) ORDER BY {child_id}"
        for row in fetch_rows(cur, sql, [wanted]):
            grouped[row[parent_column]].append(row)
    return grouped
