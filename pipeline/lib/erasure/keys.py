"""Salted hashes of erased people's identifiers, and the table that keeps them.

`activation.erasures` holds one row per erasure request: when it was asked for and processed,
how many rows each table lost, how many Klaviyo deletion requests were filed, how many Mailchimp
members were deleted, and the salted SHA-256 hashes of the person's identifiers (normalised
email, Shopify customer and order ids, Klaviyo profile ids, CSV customer ids). Never the
identifiers themselves: the table proves the erasure happened and lets every later load skip
the person (`ErasedKeys`), nothing more.

A hash is `sha256(salt ":" kind ":" value)`, the same in Python (`identifier_hash`) and in SQL
(`hash_sql`), so the loader can compare a batch of records with one anti-join. The salt comes
from `FORESIGHT_ERASURE_SALT` and has no default: a salt anyone can read (a default in the code,
the placeholder in `.env.example`) would let anyone test a guessed email against the hashes, so
`erasure_salt` refuses to go on without a secret of the shop's own. Changing the salt would
make every stored hash useless, so each row records a fingerprint of the salt it was written
with and `erased_keys` refuses to run with another one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import duckdb
import pyarrow as pa

SALT_ENV = "FORESIGHT_ERASURE_SALT"
# What `.env.example` shows: a setting copied over unchanged is as public as no salt at all.
PLACEHOLDER_SALT = "change-me-to-a-long-random-secret"
TABLE = "activation.erasures"
# Identifier kinds. Shopify ids are full GIDs ("gid://shopify/Customer/1"), so customers and
# orders cannot collide; CSV customer ids are the file's own strings.
KINDS = ("email", "shopify", "klaviyo", "files")
_BLANK = " \t\r\n"

_DDL = f"""
create schema if not exists activation;
create table if not exists {TABLE} (
    request_id varchar primary key,
    source varchar not null,
    identifier_hashes varchar[] not null,
    salt_fingerprint varchar not null,
    requested_at timestamp not null,
    processed_at timestamp not null,
    deleted_rows json not null,
    klaviyo_deletions integer not null,
    run_id varchar not null
)
"""
# Columns added since the table was first released: `ensure_table` adds them to older
# warehouses, and to new ones alike, so every warehouse ends up with the same table.
_ADDED = ("mailchimp_deletions integer default 0",)
# Every column by name, for inserts: a table's column order depends on its history.
COLUMNS = (
    "request_id",
    "source",
    "identifier_hashes",
    "salt_fingerprint",
    "requested_at",
    "processed_at",
    "deleted_rows",
    "klaviyo_deletions",
    "mailchimp_deletions",
    "run_id",
)


class ErasureSaltError(RuntimeError):
    """The erasure salt is missing, left at the public placeholder, or differs from the one
    `activation.erasures` was written with."""


def erasure_salt() -> str:
    """The salt of identifier hashes, read when called (never at import); raises
    `ErasureSaltError` naming the setting when it is not set or left at the placeholder."""
    salt = (os.environ.get(SALT_ENV) or "").strip()
    if salt and salt != PLACEHOLDER_SALT:
        return salt
    problem = "is not set" if not salt else "is still the placeholder from .env.example"
    raise ErasureSaltError(
        f"{SALT_ENV} {problem}: erasures and loads that skip erased people need a secret salt "
        "of the shop's own. Set it in .env to a long random value (for instance the output of "
        "`python -c 'import secrets; print(secrets.token_hex(32))'`), keep it secret, and never "
        "change it once people have been erased."
    )


def salt_fingerprint(salt: str) -> str:
    return hashlib.sha256(f"{salt}:fingerprint".encode()).hexdigest()


def normalise_email(text: str | None) -> str | None:
    """An email as a matching key: trimmed and lower-cased; blank is None (as dbt staging)."""
    value = (text or "").strip(_BLANK).lower()
    return value or None


def identifier_hash(kind: str, value: str, salt: str) -> str:
    """The salted hash of one identifier; `value` already normalised (see `normalise_email`)."""
    if kind not in KINDS:
        raise ValueError(f"identifier kind must be one of {KINDS}")
    return hashlib.sha256(f"{salt}:{kind}:{value}".encode()).hexdigest()


def hash_sql(kind: str, text: str, salt_param: str = "$salt") -> str:
    """SQL for the salted hash of the text expression `text` (NULL when it is blank), normalised
    as `identifier_hash` expects: emails trimmed and lower-cased, ids trimmed."""
    if kind not in KINDS:
        raise ValueError(f"identifier kind must be one of {KINDS}")
    value = f"trim({text}, '{_BLANK}')"
    if kind == "email":
        value = f"lower({value})"
    return f"sha256({salt_param} || ':{kind}:' || nullif({value}, ''))"


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create `activation.erasures`, or bring an older one up to date (old rows keep their
    values; an added count starts at 0)."""
    con.execute(_DDL)
    for column in _ADDED:
        con.execute(f"alter table {TABLE} add column if not exists {column}")


@dataclass(frozen=True)
class ErasedKeys:
    """Every stored identifier hash (one `key_hash` column) and the salt that made them."""

    hashes: pa.Table
    salt: str


def erased_keys(con: duckdb.DuckDBPyConnection, salt: str | None = None) -> ErasedKeys | None:
    """The hashes a load must skip, or None when nobody was ever erased (the common case, which
    then costs loading nothing). Raises `ErasureSaltError` when the salt has changed."""
    # fetchall, not fetchone: the loader goes on using `con` from its writer thread, where an
    # unfinished result of this thread's would be an error.
    [(exists,)] = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'activation' and table_name = 'erasures'"
    ).fetchall()
    if not exists:
        return None
    fingerprints = {
        fp for (fp,) in con.execute(f"select distinct salt_fingerprint from {TABLE}").fetchall()
    }
    if not fingerprints:
        return None
    salt = salt if salt is not None else erasure_salt()
    if fingerprints != {salt_fingerprint(salt)}:
        raise ErasureSaltError(
            f"{TABLE} was written with a different {SALT_ENV}: set the salt it was written "
            "with, or erased people would be loaded again"
        )
    hashes = con.sql(
        f"select distinct unnest(identifier_hashes) as key_hash from {TABLE}"
    ).to_arrow_table()
    return ErasedKeys(hashes, salt)
