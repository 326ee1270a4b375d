"""What each raw table holds, and how a source record becomes a typed, validated row.

Grain: one `RecordSpec` per raw table (`<schema>.<table>`), one raw row per source record key.
The full record is always kept as JSON; the typed columns here are the few that loading, partitions
and dbt staging need directly. Records become canonical JSON text in Arrow batches
(`record_batches`); extraction and validation are DuckDB SQL over that text (`staging_sql`), so a
batch is checked in one vectorised pass, not in a Python loop.

About 350 lines on purpose: the table specs and the SQL that validates against them change
together, and a reader checks a column's spec against its validation rule in one file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from pipeline.lib.erasure.keys import hash_sql

COLUMN_TYPES = ("varchar", "timestamp", "double", "bigint", "boolean")
MODES = ("merge", "insert_once")

# A time of day followed by an explicit offset ("Z", "+05:30", "-0500"). Such values are parsed as
# instants and converted to UTC; values without one are already UTC by the warehouse's convention.
# Testing the text (not the session time zone) keeps results the same on every machine.
_OFFSET_PATTERN = r"\d:\d\d(:\d\d(\.\d+)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?)$"
_BLANK = " \t\r\n"
# Bounds a batch's memory when records are large (orders with hundreds of line items).
_MAX_BATCH_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Column:
    """A typed column: `name` in the warehouse, read from the dotted `path` into the record."""

    name: str
    path: str
    type: str
    required: bool = False
    max_abs: float | None = None
    """A number whose absolute value reaches this is quarantined as out of range."""

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"Column {self.name}: type must be one of {COLUMN_TYPES}")

    @property
    def label(self) -> str:
        """The source field's own name, as quarantine reasons quote it ("$value", "updatedAt")."""
        return self.path.rsplit(".", 1)[-1]


# Money is stored as decimal(18, 2) downstream, which holds less than 1e16: a larger amount is
# no real order, and letting it through would fail that cast in every later build.
MAX_AMOUNT = 1e16


def _amount(name: str, path: str, required: bool = False) -> Column:
    return Column(name, path, "double", required, MAX_AMOUNT)


@dataclass(frozen=True)
class Identifier:
    """A field of a record that names a person: `kind` is an identifier kind of
    `erasure_keys.KINDS`, `path` the dotted path into the record."""

    kind: str
    path: str


@dataclass(frozen=True)
class RecordSpec:
    """A raw table: its key, typed columns and write mode, and the fields that name a person.

    `merge` replaces the row of a key whose record changed (mutable entities); `insert_once` keeps
    the first stored record of a key (events, which never change once they happened). A record
    whose `identifiers` hash to an erased person's is never loaded (see `erased_records_sql`).
    """

    schema: str
    table: str
    key: Column
    columns: list[Column] = field(default_factory=list)
    mode: str = "merge"
    identifiers: tuple[Identifier, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"{self.name}: mode must be one of {MODES}")

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def quarantine(self) -> str:
        return f"{self.schema}.{self.table}_quarantine"

    @property
    def all_columns(self) -> list[Column]:
        return [self.key, *self.columns]


def _ts(name: str, path: str, required: bool = False) -> Column:
    return Column(name, path, "timestamp", required)


def _shopify(table: str, *columns: Column, identifiers: tuple[Identifier, ...] = ()) -> RecordSpec:
    key = Column("id", "id", "varchar", required=True)
    columns = (_ts("updated_at", "updatedAt", True), *columns)
    return RecordSpec("raw_shopify", table, key, list(columns), identifiers=identifiers)


def _klaviyo(
    table: str, *columns: Column, mode: str = "merge", identifiers: tuple[Identifier, ...] = ()
) -> RecordSpec:
    key = Column("id", "id", "varchar", required=True)
    return RecordSpec("raw_klaviyo", table, key, list(columns), mode, identifiers)


def _mailchimp(
    table: str, *columns: Column, mode: str = "merge", identifiers: tuple[Identifier, ...] = ()
) -> RecordSpec:
    key = Column("id", "id", "varchar", required=True)
    return RecordSpec("raw_mailchimp", table, key, list(columns), mode, identifiers)


# Where each source names a person. Shopify orders and checkouts name their customer and carry
# the buyer's email (a guest order only the email); an order is also erased by its own id (a
# `customers/redact` request lists the orders to redact).
_SHOPIFY_CUSTOMER = Identifier("shopify", "customer.id")
_EMAIL = Identifier("email", "email")


_CATALOGUE = (Column("name", "attributes.name", "varchar"), _ts("updated_at", "attributes.updated"))

RAW_TABLES: dict[tuple[str, str], RecordSpec] = {
    ("shopify", "customers"): _shopify(
        "customers",
        _ts("created_at", "createdAt"),
        Column("email", "email", "varchar"),
        identifiers=(Identifier("shopify", "id"), _EMAIL),
    ),
    ("shopify", "orders"): _shopify(
        "orders",
        _ts("created_at", "createdAt"),
        _ts("processed_at", "processedAt"),
        _ts("cancelled_at", "cancelledAt"),
        Column("customer_id", "customer.id", "varchar"),
        _amount("total", "totalPriceSet.shopMoney.amount", required=True),
        Column("currency", "totalPriceSet.shopMoney.currencyCode", "varchar"),
        Column("test", "test", "boolean"),
        identifiers=(Identifier("shopify", "id"), _SHOPIFY_CUSTOMER, _EMAIL),
    ),
    ("shopify", "products"): _shopify("products", _ts("created_at", "createdAt")),
    ("shopify", "abandoned_checkouts"): _shopify(
        "abandoned_checkouts",
        _ts("created_at", "createdAt"),
        Column("customer_id", "customer.id", "varchar"),
        identifiers=(_SHOPIFY_CUSTOMER, _EMAIL),
    ),
    ("klaviyo", "profiles"): _klaviyo(
        "profiles",
        _ts("updated_at", "attributes.updated", True),
        _ts("created_at", "attributes.created"),
        Column("email", "attributes.email", "varchar"),
        identifiers=(Identifier("klaviyo", "id"), Identifier("email", "attributes.email")),
    ),
    ("klaviyo", "events"): _klaviyo(
        "events",
        _ts("occurred_at", "attributes.datetime", True),
        Column("metric_id", "relationships.metric.data.id", "varchar"),
        Column("profile_id", "relationships.profile.data.id", "varchar"),
        _amount("value", "attributes.event_properties.$value"),
        mode="insert_once",
        identifiers=(Identifier("klaviyo", "relationships.profile.data.id"),),
    ),
    ("klaviyo", "lists"): _klaviyo("lists", *_CATALOGUE),
    ("klaviyo", "metrics"): _klaviyo("metrics", *_CATALOGUE),
    ("mailchimp", "members"): _mailchimp(
        "members",
        _ts("updated_at", "last_changed", True),
        _ts("created_at", "timestamp_signup"),
        Column("email", "email_address", "varchar"),
        Column("status", "status", "varchar", required=True),
        identifiers=(Identifier("email", "email_address"),),
    ),
    ("mailchimp", "campaigns"): _mailchimp("campaigns", _ts("sent_at", "send_time", True)),
    ("mailchimp", "email_activity"): _mailchimp(
        "email_activity",
        _ts("occurred_at", "timestamp", True),
        Column("campaign_id", "campaign_id", "varchar", required=True),
        Column("member_id", "email_id", "varchar", required=True),
        Column("action", "action", "varchar", required=True),
        mode="insert_once",
        identifiers=(Identifier("email", "email_address"),),
    ),
    ("files", "orders"): RecordSpec(
        "raw_files",
        "orders",
        Column("order_id", "order_id", "varchar", required=True),
        [
            Column("customer_id", "customer_id", "varchar", required=True),
            _ts("ordered_at", "ordered_at", True),
            _amount("total", "total", required=True),
            Column("email", "email", "varchar"),
            Column("currency", "currency", "varchar"),
            Column("quantity", "quantity", "bigint"),
            Column("product", "product", "varchar"),
            Column("category", "category", "varchar"),
        ],
        identifiers=(Identifier("files", "customer_id"), _EMAIL),
    ),
}


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


def record_batches(records: Iterable[Any], size: int) -> Iterator[pa.Table]:
    """Records as Arrow batches of (`_ord`, `_error`, `record`): the input `staging_sql` reads.

    The text is canonical JSON (keys sorted, compact), so equal records are equal text whatever
    order a source sent the fields in. NaN, which JSON cannot hold, becomes null; a record that
    cannot be JSON at all (a Decimal, a non-string key) gets an `_error` and its repr instead.
    """
    texts: list[bytes] = []
    errors: dict[int, str] = {}
    volume = 0
    for record in records:
        try:
            text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            # Quarantined with what can be shown of it, never dropped.
            errors[len(texts)] = "record is not JSON-serialisable"
            text = orjson.dumps(repr(record))
        texts.append(text)
        volume += len(text)
        if len(texts) == size or volume >= _MAX_BATCH_BYTES:
            yield _arrow(texts, errors)
            texts, errors, volume = [], {}, 0
    if texts:
        yield _arrow(texts, errors)


def _arrow(texts: list[bytes], errors: dict[int, str]) -> pa.Table:
    # One buffer and an offsets array: far cheaper than converting each Python string, and safe
    # because orjson only ever writes valid UTF-8.
    n = len(texts)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=n), out=offsets[1:])
    record = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(b"".join(texts))
    )
    error = pa.array([errors.get(i) for i in range(n)] if errors else pa.nulls(n, pa.string()))
    return pa.table({"_ord": pa.array(np.arange(n)), "_error": error, "record": record})
