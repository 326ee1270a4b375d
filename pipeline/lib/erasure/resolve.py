"""From an erasure request to every identifier of the person it names.

Grain: one `Person` per request: their `customer_id`s, normalised emails, Shopify customer and
order GIDs, Klaviyo profile ids, Mailchimp member ids (subscriber hashes) and CSV customer ids.

The request's identifiers are looked up in the raw tables (an account holding the requested
email, even one dbt never linked) and in `intermediate.int_customer_identities`, whose
`customer_id` then brings in every other identity of the same person. An email joins the
person's set only when no other person uses it (a shared placeholder such as "none@none.com"
would otherwise erase, and block, everyone who typed it); a requested email that several people
share is refused (`ErasureError`), since the request does not say which of them is meant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from pipeline.lib.erasure.keys import identifier_hash
from pipeline.lib.erasure.request import ErasureRequest

IDENTITIES = "intermediate.int_customer_identities"
_GID_PREFIX = "gid://shopify/Customer/"
_NORMALISED = "lower(trim({}, ' \t\r\n'))"


class ErasureError(RuntimeError):
    """An erasure that cannot go ahead as asked; the message never holds an identifier."""


@dataclass
class Person:
    """Everything that identifies one person in the warehouse and the platforms."""

    customer_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    shopify_customer_gids: set[str] = field(default_factory=set)
    shopify_order_gids: set[str] = field(default_factory=set)
    klaviyo_profile_ids: set[str] = field(default_factory=set)
    mailchimp_member_ids: set[str] = field(default_factory=set)
    files_customer_ids: set[str] = field(default_factory=set)

    def __repr__(self) -> str:
        return "Person(" + ", ".join(f"{k}={len(v)}" for k, v in vars(self).items()) + ")"

    @property
    def shopify_customer_ids(self) -> set[str]:
        """The numeric tails of the customer GIDs, as staging and marts hold them."""
        return {gid.removeprefix(_GID_PREFIX) for gid in self.shopify_customer_gids}

    @property
    def identity_keys(self) -> set[str]:
        return (
            {f"shopify:{i}" for i in self.shopify_customer_ids}
            | {f"klaviyo:{i}" for i in self.klaviyo_profile_ids}
            | {f"mailchimp:{i}" for i in self.mailchimp_member_ids}
            | {f"files:{i}" for i in self.files_customer_ids}
        )

    def identifier_hashes(self, salt: str) -> list[str]:
        """The salted hashes a load compares records with (see `RecordSpec.identifiers`)."""
        kinds = {
            "email": self.emails,
            "shopify": self.shopify_customer_gids | self.shopify_order_gids,
            "klaviyo": self.klaviyo_profile_ids,
            "files": self.files_customer_ids,
        }
        return sorted({identifier_hash(k, v, salt) for k, vs in kinds.items() for v in vs})


def request_person(request: ErasureRequest) -> Person:
    """The identifiers the request names itself, before any look-up."""
    return Person(
        customer_ids=set(request.customer_ids),
        emails=set(request.emails),
        shopify_customer_gids=set(request.shopify_customer_gids),
        shopify_order_gids=set(request.shopify_order_gids),
        klaviyo_profile_ids=set(request.klaviyo_profile_ids),
        mailchimp_member_ids=set(request.mailchimp_member_ids),
        files_customer_ids=set(request.files_customer_ids),
    )


def resolve(con: duckdb.DuckDBPyConnection, request: ErasureRequest) -> Person:
    """Every identifier of the person `request` names, as the warehouse knows them now."""
    person = request_person(request)
    tables = existing_tables(con)
    emails = sorted(person.emails)
    if emails:
        for table, column, target in (
            ("raw_shopify.customers", "email", person.shopify_customer_gids),
            ("raw_klaviyo.profiles", "email", person.klaviyo_profile_ids),
            ("raw_mailchimp.members", "email", person.mailchimp_member_ids),
            ("raw_files.orders", "email", person.files_customer_ids),
        ):
            key = "customer_id" if table == "raw_files.orders" else "id"
            target |= _values(con, tables, table, key, _NORMALISED.format(column), emails)
    if IDENTITIES in tables:
        _expand_through_identities(con, person, request)
    if person.files_customer_ids and "raw_files.orders" in tables:
        file_emails = _values(
            con,
            tables,
            "raw_files.orders",
            _NORMALISED.format("email"),
            "customer_id",
            sorted(person.files_customer_ids),
        )
        person.emails |= _unshared(con, tables, person, file_emails)
    if "raw_shopify.orders" in tables:
        person.shopify_order_gids |= _values(
            con, tables, "raw_shopify.orders", "id", "customer_id", person.shopify_customer_gids
        )
        person.shopify_order_gids |= _values(
            con, tables, "raw_shopify.orders", "id", _NORMALISED.format("record->>'email'"), emails
        )
    person.emails.discard(None)
    return person


def _expand_through_identities(
    con: duckdb.DuckDBPyConnection, person: Person, request: ErasureRequest
) -> None:
    for email in request.emails:
        owners = con.execute(
            f"select count(distinct customer_id) from {IDENTITIES} where email = ?", [email]
        ).fetchall()[0][0]
        if owners > 1:
            raise ErasureError(
                f"a requested email belongs to {owners} customers (a shared placeholder "
                "address?): name the person by customer_id instead"
            )
    seeds = sorted(person.identity_keys)
    person.customer_ids |= {
        customer_id
        for (customer_id,) in con.execute(
            f"select distinct customer_id from {IDENTITIES} "
            "where identity_key in (select unnest(?::varchar[])) "
            "or email in (select unnest(?::varchar[]))",
            [seeds, sorted(request.emails)],
        ).fetchall()
    }
    rows = con.execute(
        f"select source_system, source_id, email from {IDENTITIES} "
        "where customer_id in (select unnest(?::varchar[]))",
        [sorted(person.customer_ids)],
    ).fetchall()
    targets = {
        "shopify": person.shopify_customer_gids,
        "klaviyo": person.klaviyo_profile_ids,
        "mailchimp": person.mailchimp_member_ids,
        "files": person.files_customer_ids,
    }
    for system, source_id, _ in rows:
        if system not in targets:
            # Erasing only some of a person's identities would look done and not be.
            raise ErasureError(
                f"the person has an identity from '{system}', which erasure does not know how "
                "to remove: nothing was erased"
            )
        targets[system].add(_GID_PREFIX + source_id if system == "shopify" else source_id)
    identity_emails = {email for _, _, email in rows if email}
    person.emails |= _unshared(con, {IDENTITIES}, person, identity_emails)


def _unshared(
    con: duckdb.DuckDBPyConnection, tables: set[str], person: Person, emails: set[str]
) -> set[str]:
    """The `emails` no identity of another person holds."""
    if not emails or IDENTITIES not in tables:
        return {e for e in emails if e}
    shared = {
        email
        for (email,) in con.execute(
            f"select distinct email from {IDENTITIES} where email in (select unnest(?::varchar[]))"
            " and customer_id not in (select unnest(?::varchar[]))",
            [sorted(e for e in emails if e), sorted(person.customer_ids)],
        ).fetchall()
    }
    return {e for e in emails if e} - shared


def _values(
    con: duckdb.DuckDBPyConnection,
    tables: set[str],
    table: str,
    select: str,
    where: str,
    values,
) -> set[str]:
    """Distinct non-null `select` of `table`'s rows whose `where` expression is in `values`."""
    values = sorted(values)
    if table not in tables or not values:
        return set()
    rows = con.execute(
        f"select distinct {select} from {table} "
        f"where {where} in (select unnest(?::varchar[])) and {select} is not null",
        [values],
    ).fetchall()
    return {value for (value,) in rows}


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """`schema.table` of every table and view of the warehouse file."""
    return {
        name
        for (name,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_catalog = current_database()"
        ).fetchall()
    }
