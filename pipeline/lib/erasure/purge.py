"""Deleting one person from every table of the warehouse.

Grain of the result: deleted rows per `schema.table`.

Every base table of the warehouse is visited (raw, dbt's intermediate and marts tables, ML,
activation and whatever a later stage adds), except `activation.erasures` itself; views need
nothing, they follow their tables. Two passes per table:

1. *By identifying column*: a row goes when a column that names a person by its name
   (`customer_id`, `email`, `profile_id`, `shopify_customer_id`, ...; see `COLUMN_KINDS`)
   holds one of the person's identifiers.
2. *Sweep*: a row goes when any text or JSON column (a raw record, a quarantined payload, a
   list) holds the person's email, or one of their ids as a whole token (a Shopify GID, a
   Klaviyo profile id, a `customer_id`). This catches what no column name announces, such as
   another record quoting the email. Numeric Shopify ids and CSV customer ids are too short to
   be recognised safely in free text; they are matched by column only.

Incremental tables (`marts.segment_history`, `marts.customer_features`) would keep the rows a
rebuild no longer produces, which is why dbt's tables are purged here and not only rebuilt.
"""

from __future__ import annotations

import hashlib
import re

import duckdb
import pyarrow as pa

from pipeline.lib.erasure.keys import TABLE as ERASURES
from pipeline.lib.erasure.resolve import Person

_VALUES = "_erasure_values"
_EMAIL_CHARS = "a-z0-9._%+-"
_ID_CHARS = "A-Za-z0-9_"

# Column name -> the kinds of value in `_VALUES` it is compared with. `customer_id` is a
# warehouse customer id in dbt, ML and activation tables, a Shopify GID in raw Shopify orders and
# checkouts, and the file's id in raw_files.orders: the values cannot be mistaken for each other.
COLUMN_KINDS: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "shopify_gid", "files"),
    # an email event's profile: a Klaviyo profile id or a Mailchimp member id
    "profile_id": ("klaviyo", "mailchimp"),
    "member_id": ("mailchimp",),
    "klaviyo_profile_id": ("klaviyo",),
    "shopify_customer_id": ("shopify_id",),
    "shopify_customer_gid": ("shopify_gid",),
    "shopify_order_gid": ("order_gid",),
    "files_customer_id": ("files",),
    "identity_key": ("identity_key",),
    # a destination's contact: a Klaviyo profile id or a Mailchimp subscriber hash
    "contact_id": ("klaviyo", "mailchimp"),
}
# In raw tables `id` is the source's own id: customers, orders and profiles are deleted by it.
_RAW_ID_KINDS = ("shopify_gid", "order_gid", "klaviyo", "mailchimp")


def purge(con: duckdb.DuckDBPyConnection, person: Person) -> dict[str, int]:
    """Delete the person's rows everywhere; deleted rows per table (tables with none left out).

    Runs on the caller's transaction, so the caller decides what commits together."""
    con.register(_VALUES, _values_table(person))
    try:
        email_pattern, id_pattern = _sweep_patterns(person)
        deleted: dict[str, int] = {}
        for table, columns in _tables(con).items():
            count = 0
            # Quoted: a table named by a later stage may hold any character.
            target = ".".join(_quote(part) for part in table.split(".", 1))
            by_column = _column_predicate(table, columns)
            if by_column:
                (n,) = con.execute(f"delete from {target} where {by_column}").fetchall()[0]
                count += n
            sweep = _sweep_predicate(columns, email_pattern, id_pattern)
            if sweep:
                params = {k: v for k, v in (("emails", email_pattern), ("ids", id_pattern)) if v}
                (n,) = con.execute(f"delete from {target} where {sweep}", params).fetchall()[0]
                count += n
            if count:
                deleted[table] = count
        return deleted
    finally:
        con.unregister(_VALUES)


def _values_table(person: Person) -> pa.Table:
    kinds = {
        "customer_id": person.customer_ids,
        "email": person.emails,
        "shopify_gid": person.shopify_customer_gids,
        "shopify_id": person.shopify_customer_ids,
        "order_gid": person.shopify_order_gids,
        "klaviyo": person.klaviyo_profile_ids,
        "files": person.files_customer_ids,
        "identity_key": person.identity_keys,
        # Mailchimp names a member by md5 of the lower-cased email
        "mailchimp": {hashlib.md5(e.encode()).hexdigest() for e in person.emails}
        | person.mailchimp_member_ids,
    }
    pairs = sorted((kind, value) for kind, values in kinds.items() for value in values)
    return pa.table(
        {
            "kind": pa.array([k for k, _ in pairs], pa.string()),
            "value": pa.array([v for _, v in pairs], pa.string()),
        }
    )


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """Every base table but the erasure log: [(quoted column, DuckDB type)] per table."""
    rows = con.execute(
        """select c.table_schema || '.' || c.table_name, c.column_name, c.data_type
        from information_schema.columns as c
        join information_schema.tables as t using (table_catalog, table_schema, table_name)
        where t.table_type = 'BASE TABLE' and t.table_catalog = current_database()
        order by c.table_schema, c.table_name, c.ordinal_position"""
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        if table != ERASURES:
            tables.setdefault(table, []).append((column, data_type))
    return tables


def _in(kinds: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{k}'" for k in kinds)
    return f"(select value from {_VALUES} where kind in ({listed}))"


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _column_predicate(table: str, columns: list[tuple[str, str]]) -> str:
    terms = []
    for column, data_type in columns:
        if data_type != "VARCHAR":
            continue
        name, quoted = column.lower(), _quote(column)
        if name == "email" or name.endswith("_email"):
            terms.append(f"lower(trim({quoted}, ' \t\r\n')) in {_in(('email',))}")
        elif name in COLUMN_KINDS:
            terms.append(f"{quoted} in {_in(COLUMN_KINDS[name])}")
        elif name == "id" and table.startswith("raw_"):
            terms.append(f"{quoted} in {_in(_RAW_ID_KINDS)}")
    return " or ".join(terms)


def _sweep_patterns(person: Person) -> tuple[str | None, str | None]:
    """Regular expressions for the person's emails (lower case) and long ids, each matched as a
    whole token: "ann@x.io" does not match "joann@x.io" nor "ann@x.io.uk"."""
    emails = sorted(person.emails)
    ids = sorted(
        person.customer_ids
        | person.shopify_customer_gids
        | person.shopify_order_gids
        | person.klaviyo_profile_ids
        | person.mailchimp_member_ids
    )
    email_pattern = id_pattern = None
    if emails:
        alternatives = "|".join(re.escape(e) for e in emails)
        email_pattern = (
            f"(^|[^{_EMAIL_CHARS}])({alternatives})($|[^{_EMAIL_CHARS}]|\\.($|[^a-z0-9]))"
        )
    if ids:
        alternatives = "|".join(re.escape(i) for i in ids)
        id_pattern = f"(^|[^{_ID_CHARS}])({alternatives})($|[^{_ID_CHARS}])"
    return email_pattern, id_pattern


def _sweep_predicate(
    columns: list[tuple[str, str]], email_pattern: str | None, id_pattern: str | None
) -> str:
    terms = []
    for column, data_type in columns:
        # Text, JSON, and lists or structs holding text, all searched as their text.
        if "VARCHAR" not in data_type and "JSON" not in data_type:
            continue
        text = f"cast({_quote(column)} as varchar)"
        if email_pattern:
            terms.append(f"regexp_matches(lower({text}), $emails)")
        if id_pattern:
            terms.append(f"regexp_matches({text}, $ids)")
    return " or ".join(terms)
