"""Erasure on the marketing platforms: Klaviyo's data-privacy deletion, Mailchimp's permanent
member deletion.

Grain: one call per Klaviyo profile (or requested email) and per Mailchimp member of the person.
Both run before the warehouse is touched (see `erasure`), so they read the warehouse as it was:
the person's emails, and the Mailchimp members our sync wrote for them. Counts only come back;
no email or id is logged or put in an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from pipeline.lib.clients.klaviyo_writes import KlaviyoWriteClient
from pipeline.lib.clients.mailchimp import MailchimpClient, subscriber_hash
from pipeline.lib.erasure.request import ErasureRequest
from pipeline.lib.erasure.resolve import Person, existing_tables

SYNC_STATE = "activation.sync_state"


@dataclass
class MailchimpAudience:
    """The Mailchimp audience erased people are deleted from: the one called `name`, else the
    account's only one (as the sync picks it), looked up on first use."""

    client: MailchimpClient
    name: str | None = None
    _list_id: str | None = field(default=None, init=False, repr=False)

    @property
    def list_id(self) -> str:
        if self._list_id is None:
            self._list_id = self.client.find_audience(self.name)["id"]
        return self._list_id


def file_klaviyo_deletions(
    klaviyo: KlaviyoWriteClient, person: Person, request: ErasureRequest
) -> int:
    """One deletion per Klaviyo profile of the person; by the requested emails when the
    warehouse knows none (Klaviyo may hold a profile we never loaded)."""
    for profile_id in sorted(person.klaviyo_profile_ids):
        klaviyo.request_deletion(profile_id=profile_id)
    if person.klaviyo_profile_ids:
        return len(person.klaviyo_profile_ids)
    for email in sorted(request.emails):
        klaviyo.request_deletion(email=email)
    return len(request.emails)


def delete_mailchimp_members(
    con: duckdb.DuckDBPyConnection, mailchimp: MailchimpAudience, person: Person
) -> int:
    """Delete every Mailchimp member of the person for good; how many Mailchimp held.

    The members are those of the person's emails (the requested ones among them) and those our
    sync acknowledged for them, which also covers an address they have since changed. A member
    Mailchimp does not hold (404) counts nothing: there was nothing of theirs to delete.
    """
    members = {subscriber_hash(email) for email in person.emails}
    members |= _synced_members(con, person)
    if not members:
        return 0
    list_id = mailchimp.list_id
    return sum(
        mailchimp.client.delete_member_permanently(list_id, member) for member in sorted(members)
    )


def _synced_members(con: duckdb.DuckDBPyConnection, person: Person) -> set[str]:
    """The subscriber hashes the Mailchimp sync recorded for the person's customer ids."""
    if not person.customer_ids or SYNC_STATE not in existing_tables(con):
        return set()
    rows = con.execute(
        f"select distinct contact_id from {SYNC_STATE} where destination = 'mailchimp' "
        "and contact_id is not null and customer_id in (select unnest(?::varchar[]))",
        [sorted(person.customer_ids)],
    ).fetchall()
    return {contact_id for (contact_id,) in rows}
