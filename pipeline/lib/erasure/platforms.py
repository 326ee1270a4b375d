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

# The sync's tables that name a destination's contacts: the latest per customer, and every
# one it ever acknowledged or sent (a profile it created, a member under a former address).
SYNC_CONTACT_TABLES = ("activation.sync_state", "activation.sync_contact_ids")


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

    The members are those of the person's emails (the requested ones among them), the Mailchimp
    members the warehouse links to them, and every one our sync recorded for them, which also
    covers an address they have since changed. A member Mailchimp does not hold (404) counts
    nothing: there was nothing of theirs to delete.
    """
    members = {subscriber_hash(email) for email in person.emails} | person.mailchimp_member_ids
    members |= synced_contact_ids(con, "mailchimp", person.customer_ids)
    if not members:
        return 0
    list_id = mailchimp.list_id
    return sum(
        mailchimp.client.delete_member_permanently(list_id, member) for member in sorted(members)
    )


def synced_contact_ids(
    con: duckdb.DuckDBPyConnection, destination: str, customer_ids: set[str]
) -> set[str]:
    """Every contact id (Klaviyo profile id, Mailchimp subscriber hash) the sync of
    `destination` recorded for `customer_ids`."""
    tables = existing_tables(con)
    found: set[str] = set()
    for table in SYNC_CONTACT_TABLES:
        if not customer_ids or table not in tables:
            continue
        rows = con.execute(
            f"select distinct contact_id from {table} where destination = ? "
            "and contact_id is not null and customer_id in (select unnest(?::varchar[]))",
            [destination, sorted(customer_ids)],
        ).fetchall()
        found |= {contact_id for (contact_id,) in rows}
    return found
