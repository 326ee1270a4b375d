"""Shopify's search syntax (the `query:` argument of connections), translated to SQL.

Supported: `field:value`, comparators `:>`, `:>=`, `:<`, `:<=`, values bare or in single or
double quotes, explicit `AND` or implicit AND by whitespace, `OR` between AND-groups, and
negation with `NOT` or a leading `-`. Terms on fields the resource does not support are
dropped and reported the way Shopify reports them, in `extensions.search` warnings; the rest
of the query still applies. Values are always bound as SQL parameters, never interpolated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Kind = Literal["timestamp", "id"]

_TERM = re.compile(
    r"""\s*(?P<neg>-)?(?:(?P<field>[A-Za-z_][\w.]*):)?(?P<op>>=|<=|>|<|=)?
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s]+)""",
    re.VERBOSE,
)
_SQL_OPS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "=": "=", None: "="}


@dataclass(frozen=True)
class SearchField:
    """A searchable field: the SQL expression it filters and how its values are parsed."""

    sql: str
    kind: Kind


@dataclass
class SearchFilter:
    """A parsed query: a SQL boolean expression, its parameters and Shopify-style warnings."""

    sql: str = "TRUE"
    params: list[Any] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Term:
    field: str | None
    op: str | None
    value: str
    negated: bool


def parse_search(text: str | None, fields: dict[str, SearchField]) -> SearchFilter:
    """Translate Shopify search syntax into a parameterised SQL predicate over `fields`."""
    result = SearchFilter()
    if not text or not text.strip():
        return result
    groups: list[str] = []
    for group in _split_groups(text):
        clauses = [c for c in (_clause(t, fields, result) for t in group) if c is not None]
        if clauses:
            groups.append("(" + " AND ".join(clauses) + ")")
    if groups:
        result.sql = "(" + " OR ".join(groups) + ")"
    return result


def _split_groups(text: str) -> list[list[_Term]]:
    """Tokenise into OR-separated groups of AND-ed terms (AND binds tighter, as in Shopify)."""
    groups: list[list[_Term]] = [[]]
    negate_next = False
    for match in _TERM.finditer(text):
        raw_field, value = match["field"], match["value"]
        if raw_field is None and match["op"] is None and match["neg"] is None:
            keyword = value.upper()
            if keyword == "AND":
                continue
            if keyword == "OR":
                groups.append([])
                continue
            if keyword == "NOT":
                negate_next = True
                continue
        negated = negate_next or match["neg"] is not None
        negate_next = False
        groups[-1].append(_Term(raw_field, match["op"], _unquote(value), negated))
    return [g for g in groups if g]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _clause(term: _Term, fields: dict[str, SearchField], out: SearchFilter) -> str | None:
    """One term as SQL, or None (with a warning) when Shopify would ignore it."""
    name = term.field.lower() if term.field else None
    spec = fields.get(name) if name else None
    if spec is None:
        out.warnings.append(
            {
                "field": term.field or term.value,
                "message": "Invalid search field for this query.",
                "code": "invalid_field",
            }
        )
        return None
    parsed = _parse_value(spec.kind, term.value)
    if parsed is None:
        out.warnings.append(
            {
                "field": term.field or "",
                "message": f"Input `{term.value}` is not an accepted value.",
                "code": "invalid_value",
            }
        )
        return None
    value, whole_day = parsed
    if whole_day and term.op in (None, "="):
        # A bare date matches the whole day in the shop's timezone (UTC in the sandbox).
        sql = f"({spec.sql} >= ? AND {spec.sql} < ?)"
        out.params.extend([value, value + timedelta(days=1)])
    else:
        sql = f"{spec.sql} {_SQL_OPS[term.op]} ?"
        out.params.append(value)
    return f"NOT {sql}" if term.negated else sql


def _parse_value(kind: Kind, raw: str) -> tuple[Any, bool] | None:
    """The bound value and whether it was a bare date, or None when the input is not valid."""
    if kind == "id":
        digits = raw.rsplit("/", 1)[-1]
        return (int(digits), False) if digits.isdigit() else None
    return _parse_timestamp(raw)


def _parse_timestamp(raw: str) -> tuple[datetime, bool] | None:
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.fromisoformat(text), True
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        # Views hold naive UTC; an explicit offset names the same instant elsewhere.
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment, False
