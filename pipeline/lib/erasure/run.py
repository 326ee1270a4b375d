"""Erasure (GDPR / CCPA right to be forgotten): forget one person everywhere, for good.

Grain: one `ErasureResult` (and one `activation.erasures` row) per request, i.e. per person.

For each request:
1. resolve every identifier of the person (`erasure_resolve`);
2. file Klaviyo's data-privacy deletion for each of their profiles, those our sync created
   included (by email when the warehouse
   knows no profile) and permanently delete their Mailchimp members (`erasure_platforms`), first,
   so that a failing call leaves the warehouse untouched and a re-run repeats the whole erasure;
3. in one transaction, delete their rows from every table (`erasure_purge`) and record the
   request in `activation.erasures` with salted hashes of their identifiers only, which makes
   every later load skip them (`raw_load.load_records`).

Re-running a request is safe: it finds nothing more to delete, files no second Klaviyo
deletion and no second Mailchimp deletion (once either platform's count is above zero), and
adds its (zero) counts to the same row. Results, logs and errors carry counts, never an email
or an id.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from pipeline.lib.clients.klaviyo_writes import KlaviyoWriteClient
from pipeline.lib.erasure.keys import (
    COLUMNS,
    TABLE,
    ensure_table,
    erased_keys,
    erasure_salt,
    salt_fingerprint,
)
from pipeline.lib.erasure.platforms import (
    MailchimpAudience,
    delete_mailchimp_members,
    file_klaviyo_deletions,
    synced_contact_ids,
)
from pipeline.lib.erasure.purge import purge
from pipeline.lib.erasure.request import ErasureRequest
from pipeline.lib.erasure.resolve import ErasureError, request_person, resolve

__all__ = ["ErasureError", "ErasureResult", "MailchimpAudience", "erase", "erase_all"]


@dataclass
class ErasureResult:
    """What one erasure did, in counts."""

    identities: int = 0
    """Source accounts (Shopify customers, Klaviyo profiles, CSV customers) of the person."""
    deleted_rows: dict[str, int] = field(default_factory=dict)
    """Rows deleted per `schema.table`."""
    klaviyo_deletions: int = 0
    """Klaviyo data-privacy deletion requests filed by this run."""
    mailchimp_deletions: int = 0
    """Mailchimp members permanently deleted by this run (one Mailchimp did not hold counts
    nothing)."""
    repeated: bool = False
    """The same request had been processed before."""

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted_rows.values())


def erase(
    con: duckdb.DuckDBPyConnection,
    request: ErasureRequest,
    *,
    klaviyo: KlaviyoWriteClient | None,
    mailchimp: MailchimpAudience | None = None,
    run_id: str,
    requested_at: datetime | None = None,
    salt: str | None = None,
) -> ErasureResult:
    """Erase the person `request` names (see the module docstring). `klaviyo` or `mailchimp`
    None deletes nothing on that platform (a shop without it). Call it outside a transaction."""
    if not request:
        raise ErasureError("an erasure request must name the person")
    salt = salt if salt is not None else erasure_salt()
    ensure_table(con)
    erased_keys(con, salt)  # refuses a changed salt before anything is deleted
    now = datetime.now(UTC).replace(tzinfo=None)
    request_id = _request_id(request, salt)
    previous = con.execute(
        f"select requested_at, deleted_rows, klaviyo_deletions, identifier_hashes, "
        f"mailchimp_deletions from {TABLE} where request_id = ?",
        [request_id],
    ).fetchall()
    person = resolve(con, request)
    # Profiles our sync created may not be ingested yet: only the sync's ledger knows them.
    person.klaviyo_profile_ids |= synced_contact_ids(con, "klaviyo", person.customer_ids)
    result = ErasureResult(
        identities=len(person.identity_keys),
        repeated=bool(previous),
    )
    klaviyo_before, mailchimp_before = (previous[0][2], previous[0][4]) if previous else (0, 0)
    if klaviyo is not None and not klaviyo_before:
        result.klaviyo_deletions = file_klaviyo_deletions(klaviyo, person, request)
    if mailchimp is not None and not mailchimp_before:
        result.mailchimp_deletions = delete_mailchimp_members(con, mailchimp, person)
    hashes = set(person.identifier_hashes(salt))
    counts = Counter[str]()
    if previous:
        requested_at = previous[0][0]
        counts.update(json.loads(previous[0][1]))
        hashes |= set(previous[0][3])
    con.begin()
    try:
        result.deleted_rows = purge(con, person)
        counts.update(result.deleted_rows)
        con.execute(
            f"insert or replace into {TABLE} ({', '.join(COLUMNS)}) "
            f"values ({', '.join('?' * len(COLUMNS))})",
            [
                request_id,
                request.source,
                sorted(hashes),
                salt_fingerprint(salt),
                requested_at or now,
                now,
                json.dumps(dict(sorted(counts.items()))),
                klaviyo_before + result.klaviyo_deletions,
                mailchimp_before + result.mailchimp_deletions,
                run_id,
            ],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return result


def erase_all(
    con: duckdb.DuckDBPyConnection,
    requests: list[ErasureRequest],
    *,
    klaviyo: KlaviyoWriteClient | None,
    mailchimp: MailchimpAudience | None = None,
    run_id: str,
    requested_at: datetime | None = None,
) -> list[ErasureResult]:
    """Erase each request's person in turn (each committed on its own)."""
    return [
        erase(
            con,
            request,
            klaviyo=klaviyo,
            mailchimp=mailchimp,
            run_id=run_id,
            requested_at=requested_at,
        )
        for request in requests
    ]


def _request_id(request: ErasureRequest, salt: str) -> str:
    """A stable id of what was asked: a hash of the request's own identifier hashes."""
    hashes = request_person(request).identifier_hashes(salt) + [
        hashlib.sha256(f"{salt}:customer_id:{c}".encode()).hexdigest()
        for c in sorted(request.customer_ids)
    ]
    return hashlib.sha256(":".join(sorted(hashes)).encode()).hexdigest()
