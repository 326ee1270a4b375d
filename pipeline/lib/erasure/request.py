"""Erasure requests: who is to be forgotten, read from a file or a `customers/redact` payload.

Grain: one `ErasureRequest` per person. A request file holds either
- one identifier per line (blank lines and `#` comments skipped): an email, a `customer_id`
  (the 32-hex-character id of `marts.customers`), or a source identity key as in
  `intermediate.int_customer_identities` (`shopify:<id>`, `klaviyo:<profile id>`,
  `mailchimp:<member id>` (the subscriber hash), `files:<customer id>`);
- a CSV with a header naming `email` and/or `customer_id` (one person per row; other columns
  are ignored);
- a Shopify `customers/redact` webhook body (JSON): {"shop_id", "shop_domain", "customer":
  {"id", "email", "phone"}, "orders_to_redact": [...]}.

Anything else is an `ErasureRequestError` naming the line or field, never the value: an error
message must not carry the very email being erased.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pipeline.lib.erasure.keys import normalise_email

# As dbt's `is_valid_email`: one @, a dot in the domain, no spaces.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z0-9-]{2,}")
_CUSTOMER_ID = re.compile(r"[0-9a-f]{32}")
_SHOPIFY_GID = re.compile(r"gid://shopify/(Customer|Order)/(\d+)")
_CSV_COLUMNS = ("email", "customer_id")
REDACT_SOURCE = "customers/redact"
FILE_SOURCE = "request file"


class ErasureRequestError(ValueError):
    """A request that cannot be read; the message says where, never the identifier."""


@dataclass(frozen=True)
class ErasureRequest:
    """The identifiers one person was named by (emails normalised, Shopify ids as GIDs)."""

    emails: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] = ()
    shopify_customer_gids: tuple[str, ...] = ()
    klaviyo_profile_ids: tuple[str, ...] = ()
    mailchimp_member_ids: tuple[str, ...] = ()
    files_customer_ids: tuple[str, ...] = ()
    shopify_order_gids: tuple[str, ...] = ()
    source: str = FILE_SOURCE

    def __repr__(self) -> str:
        # Counts only: a request's repr can end up in a log or a traceback.
        counts = ", ".join(
            f"{f.name}={len(getattr(self, f.name))}" for f in fields(self) if f.name != "source"
        )
        return f"ErasureRequest({counts}, source={self.source!r})"

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "source")


def parse_request_file(path: Path) -> list[ErasureRequest]:
    """Every request in a file (one person per line or CSV row, or one webhook body)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ErasureRequestError(f"cannot read the erasure request file {path}: {exc}") from None
    return parse_request_text(text)


def parse_request_text(text: str) -> list[ErasureRequest]:
    stripped = text.strip()
    if not stripped:
        raise ErasureRequestError("the erasure request is empty")
    if stripped.startswith(("{", "[")):
        return [parse_redact_json(stripped)]
    first = stripped.splitlines()[0].strip().lower()
    if "," in first or first in _CSV_COLUMNS:
        requests = _parse_csv(stripped)
    else:
        requests = _parse_lines(stripped)
    if not requests:
        raise ErasureRequestError("the erasure request names nobody")
    return list(dict.fromkeys(requests))


def parse_redact_json(text: str) -> ErasureRequest:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ErasureRequestError(
            f"the customers/redact payload is not valid JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg})"
        ) from None
    return parse_redact_payload(payload)


def parse_redact_payload(payload: Any) -> ErasureRequest:
    """A Shopify `customers/redact` webhook body as a request; the customer needs an id or an
    email. The phone is not used: Shopify always sends the customer id, which is exact."""
    if not isinstance(payload, dict):
        raise ErasureRequestError("the customers/redact payload must be a JSON object")
    customer = payload.get("customer")
    if not isinstance(customer, dict):
        raise ErasureRequestError("the customers/redact payload has no `customer` object")
    gids: tuple[str, ...] = ()
    if customer.get("id") is not None:
        gids = (_shopify_gid(customer["id"], "Customer", "customer.id"),)
    emails: tuple[str, ...] = ()
    if customer.get("email") not in (None, ""):
        if not isinstance(customer["email"], str):
            raise ErasureRequestError("customer.email must be a string")
        emails = (_email(customer["email"], "customer.email"),)
    if not gids and not emails:
        raise ErasureRequestError("customers/redact names no customer: customer.id or email")
    orders = payload.get("orders_to_redact") or []
    if not isinstance(orders, list):
        raise ErasureRequestError("orders_to_redact must be a list of order ids")
    order_gids = tuple(
        dict.fromkeys(
            _shopify_gid(order, "Order", f"orders_to_redact[{i}]") for i, order in enumerate(orders)
        )
    )
    return ErasureRequest(
        emails=emails,
        shopify_customer_gids=gids,
        shopify_order_gids=order_gids,
        source=REDACT_SOURCE,
    )


def parse_identifier(text: str, where: str) -> ErasureRequest:
    """One identifier of any supported kind; `where` ("line 3") words the error."""
    value = text.strip()
    if "@" in value:
        return ErasureRequest(emails=(_email(value, where),))
    if _CUSTOMER_ID.fullmatch(value):
        return ErasureRequest(customer_ids=(value,))
    source, _, source_id = value.partition(":")
    source_id = source_id.strip()
    if source_id and source == "shopify":
        return ErasureRequest(shopify_customer_gids=(_shopify_gid(source_id, "Customer", where),))
    if source_id and source == "klaviyo":
        return ErasureRequest(klaviyo_profile_ids=(source_id,))
    if source_id and source == "mailchimp":
        if not _CUSTOMER_ID.fullmatch(source_id.lower()):
            raise ErasureRequestError(
                f"{where}: a Mailchimp member id is 32 hexadecimal characters (its subscriber hash)"
            )
        return ErasureRequest(mailchimp_member_ids=(source_id.lower(),))
    if source_id and source == "files":
        return ErasureRequest(files_customer_ids=(source_id,))
    if source == "gid" and _SHOPIFY_GID.fullmatch(value):
        return ErasureRequest(shopify_customer_gids=(_shopify_gid(value, "Customer", where),))
    raise ErasureRequestError(
        f"{where}: not an email, a customer_id (32 hexadecimal characters) or an identity key "
        "(shopify:<id>, klaviyo:<profile id>, mailchimp:<member id>, files:<customer id>)"
    )


def _parse_lines(text: str) -> list[ErasureRequest]:
    requests = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            requests.append(parse_identifier(line, f"line {number}"))
    return requests


def _parse_csv(text: str) -> list[ErasureRequest]:
    reader = csv.DictReader(io.StringIO(text))
    header = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    columns = [c for c in _CSV_COLUMNS if c in header]
    if not columns:
        raise ErasureRequestError("the CSV header names neither an email nor a customer_id column")
    requests = []
    for row in reader:
        where = f"row {reader.line_num}"
        values = {c: (row.get(header[c]) or "").strip() for c in columns}
        if not any(values.values()):
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # a blank line
            raise ErasureRequestError(f"{where}: no email and no customer_id")
        email, customer_id = values.get("email"), values.get("customer_id")
        if customer_id and not _CUSTOMER_ID.fullmatch(customer_id):
            raise ErasureRequestError(
                f"{where}: customer_id is not 32 hexadecimal characters (marts.customers)"
            )
        requests.append(
            ErasureRequest(
                emails=(_email(email, where),) if email else (),
                customer_ids=(customer_id,) if customer_id else (),
            )
        )
    return requests


def _email(text: str, where: str) -> str:
    email = normalise_email(text)
    if email is None or not _EMAIL.fullmatch(email):
        raise ErasureRequestError(f"{where}: not a valid email address")
    return email


def _shopify_gid(value: Any, kind: str, where: str) -> str:
    """A Shopify id as a GID; accepts the number (webhooks send integers) or the GID itself."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ErasureRequestError(f"{where}: a Shopify {kind.lower()} id must be a number")
    text = str(value).strip()
    if text.isdigit():
        return f"gid://shopify/{kind}/{text}"
    match = _SHOPIFY_GID.fullmatch(text)
    if match is None or match[1] != kind:
        raise ErasureRequestError(f"{where}: not a Shopify {kind.lower()} id")
    return text
