"""Klaviyo's `filter` syntax turned into SQL (keyset pagination is in `paging.py`).

Filters look like `equals(email,"a@b.c")`, `any(id,["a","b"])`,
`greater-than(updated,2024-01-01T00:00:00Z)`; several are joined with commas or `and(...)`.
Each endpoint declares which fields accept which operators (the spec's `Allowed field(s)`), and
anything else is a 400, as the real API answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.klaviyo.jsonapi import invalid

_COMPARE = {
    "equals": "=",
    "greater-than": ">",
    "less-than": "<",
    "greater-or-equal": ">=",
    "less-or-equal": "<=",
}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
# A '+' in an unencoded query string arrives as a space: accept "…00:00:00 00:00" as "+00:00".
_SPACED_OFFSET = re.compile(r"(T\d\d:\d\d(:\d\d(\.\d+)?)?) (\d\d:?\d\d)$")


@dataclass(frozen=True)
class Field:
    """A filterable field: its SQL expression, value kind and allowed operators.

    Kinds: `str`, `email` (compared trimmed and case-insensitively), `datetime`, `timestamp`
    (epoch seconds or a datetime), `never`/`always` (fields that exist in the API but can never
    or always match in the sandbox, e.g. list suppressions, which the store does not have).
    """

    sql: str
    kind: str
    ops: frozenset[str]


def fld(sql: str, kind: str, *ops: str) -> Field:
    return Field(sql, kind, frozenset(ops))


@dataclass(frozen=True)
class Condition:
    op: str
    field: str
    value: Any


def where_sql(text: str | None, fields: dict[str, Field]) -> tuple[str, list[Any], list[Condition]]:
    """Parse `filter` and return (SQL boolean expression, parameters, conditions)."""
    if not text:
        return "true", [], []
    conditions = parse_filter(text)
    clauses, params = [], []
    for cond in conditions:
        spec = fields.get(cond.field)
        if spec is None or cond.op not in spec.ops:
            raise invalid(
                f"'{cond.op}' is not a valid operator for filter field '{cond.field}'.",
                parameter="filter",
            )
        clause, values = _clause(cond, spec)
        clauses.append(clause)
        params.extend(values)
    return " and ".join(f"({c})" for c in clauses), params, conditions


def _clause(cond: Condition, spec: Field) -> tuple[str, list[Any]]:
    if spec.kind in ("never", "always"):
        return ("false" if spec.kind == "never" else "true"), []
    if cond.op == "any":
        if not isinstance(cond.value, list) or not cond.value:
            raise invalid(f"any({cond.field},…) needs a non-empty list.", parameter="filter")
        values = [_coerce(v, spec, cond) for v in cond.value]
        return f"list_contains(?, {_lhs(spec)})", [values]
    return f"{_lhs(spec)} {_COMPARE[cond.op]} ?", [_coerce(cond.value, spec, cond)]


def _lhs(spec: Field) -> str:
    return f"lower(trim({spec.sql}))" if spec.kind == "email" else spec.sql


def _coerce(value: Any, spec: Field, cond: Condition) -> Any:
    if spec.kind in ("str", "email"):
        if not isinstance(value, str):
            raise invalid(f"'{cond.field}' must be compared with a string.", parameter="filter")
        return value.strip().lower() if spec.kind == "email" else value
    if spec.kind == "timestamp" and isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    if isinstance(value, str):
        value = _datetime(value)
    if not isinstance(value, datetime):
        raise invalid(f"'{cond.field}' must be compared with a datetime.", parameter="filter")
    return value


def _datetime(text: str) -> datetime | None:
    text = _SPACED_OFFSET.sub(r"\1+\4", text.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_filter(text: str) -> list[Condition]:
    """Parse a filter string into a flat AND-list of conditions."""
    parser = _Parser(text)
    conditions = parser.expression_list()
    if parser.pos != len(text):
        parser.fail("unexpected trailing text")
    return conditions


class _Parser:
    """Recursive-descent parser over Klaviyo's `op(field,value)` filter grammar."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def fail(self, why: str) -> None:
        raise invalid(f"Invalid filter ({why} at position {self.pos}).", parameter="filter")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def eat(self, char: str) -> None:
        if self.peek() != char:
            self.fail(f"expected '{char}'")
        self.pos += 1

    def skip_space(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def expression_list(self) -> list[Condition]:
        conditions = self.expression()
        while self.peek() == ",":
            self.pos += 1
            conditions += self.expression()
        return conditions

    def expression(self) -> list[Condition]:
        self.skip_space()
        match = re.compile(r"[a-z-]+").match(self.text, self.pos)
        if not match:
            self.fail("expected an operator")
        op = match.group()
        self.pos = match.end()
        self.eat("(")
        if op == "and":
            conditions = self.expression_list()
        elif op == "has":
            conditions = [Condition(op, self.bare(), None)]
        elif op in _COMPARE or op == "any":
            field = self.bare()
            self.eat(",")
            conditions = [Condition(op, field, self.value())]
        else:
            raise invalid(f"The '{op}' operator is not supported here.", parameter="filter")
        self.skip_space()
        self.eat(")")
        return conditions

    def bare(self) -> str:
        self.skip_space()
        start = self.pos
        while self.peek() not in (",", ")", "]", ""):
            self.pos += 1
        token = self.text[start : self.pos].strip()
        if not token:
            self.fail("expected a value")
        return token

    def value(self) -> Any:
        self.skip_space()
        char = self.peek()
        if char in ("'", '"'):
            return self.quoted(char)
        if char == "[":
            self.pos += 1
            items = [] if self.peek() == "]" else [self.value()]
            while self.peek() == ",":
                self.pos += 1
                items.append(self.value())
            self.eat("]")
            return items
        token = self.bare()
        if token in ("true", "false"):
            return token == "true"
        if token == "null":
            return None
        if _NUMBER.fullmatch(token):
            return float(token) if "." in token else int(token)
        parsed = _datetime(token)
        if parsed is None:
            self.fail(f"'{token}' is not a valid value (strings must be quoted)")
        return parsed

    def quoted(self, quote: str) -> str:
        self.pos += 1
        out = []
        while self.peek() != quote:
            if self.peek() == "":
                self.fail("unterminated string")
            if self.peek() == "\\":
                self.pos += 1
            out.append(self.peek())
            self.pos += 1
        self.pos += 1
        self.skip_space()
        return "".join(out)
