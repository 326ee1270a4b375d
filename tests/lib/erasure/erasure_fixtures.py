"""The erasure tests' small hand-made warehouse: Ann (erased in the tests) and Bob (who must stay)
across raw, dbt, ML and activation tables; a stand-in Klaviyo; the Mailchimp emulator on
127.0.0.1 through the real client; and ways to look for what is left of a person."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.applications import Starlette

from pipeline.lib.clients.mailchimp import MailchimpClient
from pipeline.lib.erasure.run import MailchimpAudience
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from sandbox.context import SandboxContext
from sandbox.mailchimp.api import mailchimp_routes
from sandbox.threaded_server import ThreadedServer
from tests.lib.clients.sandbox_fixtures import quiet_session
from tests.sandbox.klaviyo_fixtures import TOKEN

SALT = "test-salt"
ANN = "ann.lee@example.com"
ANN_ID = "a" * 32
BOB_ID = "b" * 32
SHOPIFY_ANN = "gid://shopify/Customer/11"
SHOPIFY_BOB = "gid://shopify/Customer/111"  # a longer id that starts like Ann's
ANN_BEFORE = "ann.before@example.com"  # an address of Ann's that only the Mailchimp sync knew


class FakeKlaviyo:
    def __init__(self) -> None:
        self.deletions: list[dict] = []

    def request_deletion(self, **named) -> None:
        self.deletions.append(named)


def shopify_customer(gid: str, email: str) -> dict:
    return {"id": gid, "email": email, "updatedAt": "2024-03-01T00:00:00Z"}


def shopify_order(gid: str, customer: str | None, email: str) -> dict:
    return {
        "id": gid,
        "customer": {"id": customer} if customer else None,
        "email": email,
        "updatedAt": "2024-03-02T00:00:00Z",
        "totalPriceSet": {"shopMoney": {"amount": "12.0", "currencyCode": "USD"}},
    }


def profile(pid: str, email: str) -> dict:
    return {"id": pid, "attributes": {"email": email, "updated": "2024-03-01T00:00:00+00:00"}}


def event(eid: str, pid: str, value="1.0", note: str = "") -> dict:
    return {
        "id": eid,
        "attributes": {
            "datetime": "2024-03-03T00:00:00+00:00",
            "event_properties": {"$value": value, "note": note},
        },
        "relationships": {"profile": {"data": {"id": pid, "type": "profile"}}},
    }


RECORDS = {
    ("shopify", "customers"): [
        shopify_customer(SHOPIFY_ANN, " Ann.Lee@Example.com"),
        shopify_customer(SHOPIFY_BOB, "bob@example.com"),
    ],
    ("shopify", "orders"): [
        shopify_order("gid://shopify/Order/1", SHOPIFY_ANN, "ann.lee@example.com"),
        shopify_order("gid://shopify/Order/2", None, "ANN.LEE@example.com"),  # a guest order
        shopify_order("gid://shopify/Order/3", SHOPIFY_BOB, "bob@example.com"),
    ],
    ("klaviyo", "profiles"): [profile("PANN", ANN), profile("PBOB", "bob@example.com")],
    ("klaviyo", "events"): [
        event("e1", "PANN"),
        event("e2", "PANN", value="not a number"),  # quarantined
        event("e3", "PBOB", note="refer a friend: joann.lee@example.com"),
        event("e4", "PBOB", note="forwarded to ann.lee@example.com"),  # quotes Ann's email
    ],
}


def load(con, records=RECORDS) -> dict:
    return {key: load_records(con, RAW_TABLES[key], rows, "load") for key, rows in records.items()}


def everything(con) -> str:
    """Every row of every table but the erasure log, as one lower-cased text."""
    tables = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_name <> 'erasures'"
    ).fetchall()
    return " ".join(str(con.execute(f"select * from {t}").fetchall()) for (t,) in tables).lower()


def mentions(text: str, value: str) -> bool:
    """Whether `value` occurs in `text` as a whole token ("ann@x" is not in "joann@x")."""
    return re.search(rf"(?<![\w.%+-]){re.escape(value.lower())}(?![\w-])", text) is not None


@contextmanager
def mailchimp_server(ctx: SandboxContext) -> Iterator[MailchimpAudience]:
    """The Mailchimp emulator over `ctx` on 127.0.0.1, and its audience through the real client."""
    with ThreadedServer(Starlette(routes=mailchimp_routes(ctx))) as server:
        session = quiet_session("Mailchimp", "MAILCHIMP_API_KEY")
        yield MailchimpAudience(MailchimpClient(f"{server.url}/3.0", TOKEN, session))


def members(audience: MailchimpAudience) -> set[str]:
    return {m["id"] for m in audience.client.iter_members(audience.list_id, fields=["id"])}
