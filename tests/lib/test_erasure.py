"""Erasure on a small hand-made warehouse: the person goes from every table (and only the
person), only salted hashes remain, re-running is a no-op, and later loads skip them. Their
Mailchimp members are deleted on the Mailchimp emulator (tiny store, 127.0.0.1), before the
warehouse is touched."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import duckdb
import pytest
from starlette.applications import Starlette

from pipeline.lib.clients.http import ApiError
from pipeline.lib.clients.mailchimp import MailchimpClient, MemberUpsert, subscriber_hash
from pipeline.lib.erasure.keys import (
    ErasureSaltError,
    hash_sql,
    identifier_hash,
    salt_fingerprint,
)
from pipeline.lib.erasure.request import ErasureRequest, parse_redact_payload
from pipeline.lib.erasure.run import ErasureError, MailchimpAudience, erase
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.warehouse import load_records
from pipeline.lib.sync.ledger import SyncLedger
from pipeline.lib.sync.records import Outcome
from sandbox.context import SandboxContext
from sandbox.mailchimp.api import mailchimp_routes
from sandbox.threaded_server import ThreadedServer
from tests.lib.clients.sandbox_fixtures import quiet_session
from tests.sandbox.klaviyo_fixtures import TOKEN, make_ctx

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


@pytest.fixture
def con():
    with duckdb.connect() as con:
        load(con)
        con.execute(f"""
            create schema intermediate; create schema marts; create schema ml;
            create schema activation;
            create table intermediate.int_customer_identities as select * from (values
                ('shopify:11', 'shopify', '11', '{ANN}', '{ANN_ID}'),
                ('klaviyo:PANN', 'klaviyo', 'PANN', '{ANN}', '{ANN_ID}'),
                ('shopify:111', 'shopify', '111', 'bob@example.com', '{BOB_ID}'),
                ('klaviyo:PBOB', 'klaviyo', 'PBOB', 'bob@example.com', '{BOB_ID}'))
                as t(identity_key, source_system, source_id, email, customer_id);
            create table marts.customers as select * from (values
                ('{ANN_ID}', '{ANN}', '11', 'PANN'), ('{BOB_ID}', 'bob@example.com', '111', 'PBOB'))
                as t(customer_id, email, shopify_customer_id, klaviyo_profile_id);
            create table marts.segment_history as select * from (values
                ('{ANN_ID}', 'vip'), ('{BOB_ID}', 'vip')) as t(customer_id, segment);
            create table ml.explanations as select * from (values
                (1, '{{"who": "{ANN_ID}"}}'::json), (2, '{{"who": "{BOB_ID}"}}'::json))
                as t(n, detail);
            create table activation.sync_state as select * from (values
                ('klaviyo', '{ANN_ID}', 'PANN'), ('klaviyo', '{BOB_ID}', 'PBOB'))
                as t(destination, customer_id, contact_id);
        """)
        yield con


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


def test_sql_and_python_hash_alike():
    (sql,) = duckdb.execute(
        f"select {hash_sql('email', '$v', '$salt')}", {"v": " Ann.Lee@Example.COM\t", "salt": SALT}
    ).fetchone()
    assert sql == identifier_hash("email", ANN, SALT)
    (blank,) = duckdb.execute(
        f"select {hash_sql('klaviyo', '$v', '$salt')}", {"v": " ", "salt": SALT}
    ).fetchone()
    assert blank is None


def test_erasure_removes_the_person_everywhere_and_only_them(con):
    before = everything(con)
    assert mentions(before, ANN) and mentions(before, ANN_ID) and mentions(before, "pann")
    klaviyo = FakeKlaviyo()
    result = erase(con, ErasureRequest(emails=(ANN,)), klaviyo=klaviyo, run_id="r1", salt=SALT)
    after = everything(con)
    for value in (ANN, ANN_ID, "PANN", SHOPIFY_ANN, "gid://shopify/Order/1"):
        assert not mentions(after, value), value
    assert result.deleted_rows == {
        "activation.sync_state": 1,
        "intermediate.int_customer_identities": 2,
        "marts.customers": 1,
        "marts.segment_history": 1,
        "ml.explanations": 1,
        "raw_klaviyo.events": 2,  # hers, and Bob's event quoting her email
        "raw_klaviyo.events_quarantine": 1,
        "raw_klaviyo.profiles": 1,
        "raw_shopify.customers": 1,
        "raw_shopify.orders": 2,  # hers and the guest order with her email
    }
    assert klaviyo.deletions == [{"profile_id": "PANN"}]
    # Bob, whose ids start like Ann's and who knows a "joann", is whole.
    assert con.execute("select count(*) from raw_shopify.customers").fetchone() == (1,)
    assert mentions(after, "joann.lee@example.com") and mentions(after, BOB_ID)
    [row] = con.execute("select * from activation.erasures").fetchall()
    assert ANN not in str(row).lower() and "pann" not in str(row).lower()
    assert identifier_hash("email", ANN, SALT) in row[2]
    assert identifier_hash("shopify", SHOPIFY_ANN, SALT) in row[2]


def test_a_rerun_deletes_nothing_more_and_files_no_second_deletion(con):
    klaviyo = FakeKlaviyo()
    request = ErasureRequest(emails=(ANN,))
    first = erase(con, request, klaviyo=klaviyo, run_id="r1", salt=SALT)
    [(counts_before,)] = con.execute("select deleted_rows from activation.erasures").fetchall()
    again = erase(con, request, klaviyo=klaviyo, run_id="r2", salt=SALT)
    assert again.repeated and again.total_deleted == 0 and again.klaviyo_deletions == 0
    assert len(klaviyo.deletions) == first.klaviyo_deletions == 1
    [(counts, filed)] = con.execute(
        "select deleted_rows, klaviyo_deletions from activation.erasures"
    ).fetchall()
    assert json.loads(counts) == json.loads(counts_before) and filed == 1


def test_later_loads_skip_the_person_and_count_it(con, monkeypatch):
    monkeypatch.setenv("FORESIGHT_ERASURE_SALT", SALT)
    redact = parse_redact_payload({"customer": {"id": 11, "email": ANN}})
    erase(con, redact, klaviyo=None, run_id="r1")
    again = {
        **RECORDS,
        # a new Klaviyo profile with her email under a new id; Bob's event quoting her email
        # is left out: a record of someone else is recognised by its own identifiers only
        ("klaviyo", "profiles"): [
            *RECORDS["klaviyo", "profiles"],
            profile("PNEW", " ANN.lee@example.com"),
        ],
        ("klaviyo", "events"): RECORDS["klaviyo", "events"][:3],
    }
    results = load(con, again)
    assert {key: r.erased_skipped for key, r in results.items()} == {
        ("shopify", "customers"): 1,
        ("shopify", "orders"): 2,
        ("klaviyo", "profiles"): 2,
        ("klaviyo", "events"): 2,
    }
    for r in results.values():
        assert r.fetched == r.loaded + r.quarantined + r.erased_skipped
    assert not mentions(everything(con), ANN) and not mentions(everything(con), "pann")
    assert con.execute("select count(*) from raw_klaviyo.events_quarantine").fetchone() == (0,)


def test_a_new_account_with_the_erased_email_is_skipped_too(con, monkeypatch):
    monkeypatch.setenv("FORESIGHT_ERASURE_SALT", SALT)
    erase(con, ErasureRequest(emails=(ANN,)), klaviyo=None, run_id="r1")
    result = load_records(
        con, RAW_TABLES["klaviyo", "profiles"], [profile("PNEW", " ANN.Lee@example.com ")], "r2"
    )
    assert (result.fetched, result.loaded, result.erased_skipped) == (1, 0, 1)


def test_a_changed_salt_stops_loads_and_erasures(con, monkeypatch):
    erase(con, ErasureRequest(emails=(ANN,)), klaviyo=None, run_id="r1", salt=SALT)
    monkeypatch.setenv("FORESIGHT_ERASURE_SALT", "another-salt")
    with pytest.raises(ErasureSaltError, match="FORESIGHT_ERASURE_SALT"):
        load(con)
    with pytest.raises(ErasureSaltError):
        erase(con, ErasureRequest(emails=("bob@example.com",)), klaviyo=None, run_id="r2")


def test_an_unknown_person_is_still_blocked_and_deleted_in_klaviyo_by_email(con):
    klaviyo = FakeKlaviyo()
    result = erase(
        con, ErasureRequest(emails=("nobody@x.io",)), klaviyo=klaviyo, run_id="r1", salt=SALT
    )
    assert result.total_deleted == 0 and result.identities == 0
    assert klaviyo.deletions == [{"email": "nobody@x.io"}]
    [(hashes,)] = con.execute("select identifier_hashes from activation.erasures").fetchall()
    assert hashes == [identifier_hash("email", "nobody@x.io", SALT)]


def test_a_shared_placeholder_email_is_refused_and_never_erases_others(con):
    con.execute(
        """update intermediate.int_customer_identities set email = 'none@none.com'
        where identity_key in ('shopify:11', 'shopify:111')"""
    )
    with pytest.raises(ErasureError, match="belongs to 2 customers") as raised:
        erase(con, ErasureRequest(emails=("none@none.com",)), klaviyo=None, run_id="r1", salt=SALT)
    assert "none@none.com" not in str(raised.value)
    erase(con, ErasureRequest(customer_ids=(ANN_ID,)), klaviyo=None, run_id="r2", salt=SALT)
    assert mentions(everything(con), BOB_ID)
    [(hashes,)] = con.execute("select identifier_hashes from activation.erasures").fetchall()
    assert identifier_hash("email", "none@none.com", SALT) not in hashes


# -- Mailchimp -----------------------------------------------------------------------------------


@contextmanager
def mailchimp_server(ctx: SandboxContext) -> Iterator[MailchimpAudience]:
    """The Mailchimp emulator over `ctx` on 127.0.0.1, and its audience through the real client."""
    with ThreadedServer(Starlette(routes=mailchimp_routes(ctx))) as server:
        session = quiet_session("Mailchimp", "MAILCHIMP_API_KEY")
        yield MailchimpAudience(MailchimpClient(f"{server.url}/3.0", TOKEN, session))


def members(audience: MailchimpAudience) -> set[str]:
    return {m["id"] for m in audience.client.iter_members(audience.list_id, fields=["id"])}


@pytest.fixture
def mailchimp_ctx() -> SandboxContext:
    return make_ctx()


@pytest.fixture
def mailchimp(con, mailchimp_ctx) -> Iterator[MailchimpAudience]:
    """The tiny store's audience plus Ann (under her address and an older one the Mailchimp sync
    recorded) and Bob, as a sync would have left them."""
    with mailchimp_server(mailchimp_ctx) as audience:
        emails = [ANN, ANN_BEFORE, "bob@example.com"]
        outcomes = audience.client.upsert_members(audience.list_id, map(MemberUpsert, emails))
        assert all(o.ok for o in outcomes)
        con.execute(
            "insert into activation.sync_state values ('mailchimp', ?, ?), ('mailchimp', ?, ?)",
            [ANN_ID, subscriber_hash(ANN_BEFORE), BOB_ID, subscriber_hash("bob@example.com")],
        )
        yield audience


def test_erasure_deletes_the_persons_mailchimp_members_and_only_theirs(con, mailchimp):
    before = members(mailchimp)
    ann = {subscriber_hash(ANN), subscriber_hash(ANN_BEFORE)}
    assert ann <= before
    result = erase(
        con,
        ErasureRequest(emails=(ANN,)),
        klaviyo=None,
        mailchimp=mailchimp,
        run_id="r1",
        salt=SALT,
    )
    assert result.mailchimp_deletions == 2
    assert members(mailchimp) == before - ann  # Bob and the store's people stay
    [(filed,)] = con.execute("select mailchimp_deletions from activation.erasures").fetchall()
    assert filed == 2


def test_a_rerun_files_no_second_mailchimp_deletion(con, mailchimp):
    request = ErasureRequest(emails=(ANN,))
    erase(con, request, klaviyo=None, mailchimp=mailchimp, run_id="r1", salt=SALT)
    calls = mailchimp.client.session.stats.requests
    again = erase(con, request, klaviyo=None, mailchimp=mailchimp, run_id="r2", salt=SALT)
    assert again.repeated and again.mailchimp_deletions == 0
    assert mailchimp.client.session.stats.requests == calls  # not a single Mailchimp call
    [(filed,)] = con.execute("select mailchimp_deletions from activation.erasures").fetchall()
    assert filed == 2


def test_a_person_mailchimp_does_not_hold_counts_nothing_and_is_asked_again(con, mailchimp_ctx):
    """A member Mailchimp does not hold (404) is nothing to delete: the erasure goes on, counts
    0, and a re-run asks Mailchimp again (the address may have joined since)."""
    with mailchimp_server(mailchimp_ctx) as audience:
        before = members(audience)
        request = ErasureRequest(emails=("bob@example.com",))
        first = erase(con, request, klaviyo=None, mailchimp=audience, run_id="r1", salt=SALT)
        assert first.mailchimp_deletions == 0 and first.total_deleted > 0
        calls = audience.client.write_calls
        again = erase(con, request, klaviyo=None, mailchimp=audience, run_id="r2", salt=SALT)
        assert again.mailchimp_deletions == 0 and audience.client.write_calls == calls + 1
        assert members(audience) == before
    [(filed,)] = con.execute("select mailchimp_deletions from activation.erasures").fetchall()
    assert filed == 0


def test_a_failing_mailchimp_call_leaves_the_warehouse_untouched(con, mailchimp_ctx):
    klaviyo = FakeKlaviyo()
    request = ErasureRequest(emails=(ANN,))
    before = everything(con)
    with mailchimp_server(mailchimp_ctx) as audience:
        audience.client.upsert_members(audience.list_id, [MemberUpsert(ANN)])
    # the audience was found; now Mailchimp stops answering
    with pytest.raises(ApiError, match="did not answer") as raised:
        erase(con, request, klaviyo=klaviyo, mailchimp=audience, run_id="r1", salt=SALT)
    assert ANN not in str(raised.value) and subscriber_hash(ANN) not in str(raised.value)
    assert everything(con) == before
    assert con.execute("select count(*) from activation.erasures").fetchone() == (0,)
    with mailchimp_server(mailchimp_ctx) as back:
        result = erase(con, request, klaviyo=klaviyo, mailchimp=back, run_id="r2", salt=SALT)
        assert subscriber_hash(ANN) not in members(back)
    assert result.mailchimp_deletions == 1 and not result.repeated and result.total_deleted > 0
    assert klaviyo.deletions == [{"profile_id": "PANN"}] * 2  # the whole erasure, repeated


# -- an older warehouse ------------------------------------------------------------------------

OLD_ERASURES = """
create table activation.erasures (
    request_id varchar primary key, source varchar not null, identifier_hashes varchar[] not null,
    salt_fingerprint varchar not null, requested_at timestamp not null,
    processed_at timestamp not null, deleted_rows json not null,
    klaviyo_deletions integer not null, run_id varchar not null)
"""


def test_an_older_erasures_table_gains_the_mailchimp_column_and_keeps_its_rows(con, mailchimp):
    con.execute(OLD_ERASURES)
    old = (
        "old-request",
        "request file",
        ["h1", "h2"],
        salt_fingerprint(SALT),
        datetime(2024, 1, 2),
        datetime(2024, 1, 3),
        '{"raw_shopify.orders": 2}',
        1,
        "old-run",
    )
    con.execute("insert into activation.erasures values (?, ?, ?, ?, ?, ?, ?, ?, ?)", old)
    result = erase(
        con,
        ErasureRequest(emails=("bob@example.com",)),
        klaviyo=FakeKlaviyo(),
        mailchimp=mailchimp,
        run_id="new-run",
        salt=SALT,
    )
    assert result.mailchimp_deletions == 1
    rows = con.execute("select * from activation.erasures order by run_id").fetchall()
    assert rows[1] == (*old, 0)  # the added column comes last, at 0 for an old row
    assert rows[0][-3:] == (1, "new-run", 1)  # klaviyo_deletions, run_id, mailchimp_deletions


def test_a_profile_our_sync_created_is_deleted_when_asked_by_customer_id(con):
    # The sync created PSYNC for Ann; no Klaviyo ingest has loaded it yet.
    con.execute(
        f"update activation.sync_state set contact_id = 'PSYNC' where customer_id = '{ANN_ID}'"
    )
    klaviyo = FakeKlaviyo()
    erase(con, ErasureRequest(customer_ids=(ANN_ID,)), klaviyo=klaviyo, run_id="r1", salt=SALT)
    assert sorted(d["profile_id"] for d in klaviyo.deletions) == ["PANN", "PSYNC"]


def test_the_mailchimp_member_of_a_former_address_is_deleted(con, mailchimp_ctx):
    con.execute("drop table activation.sync_state")
    ledger = SyncLedger(con, "mailchimp")
    for run, address in (("r1", ANN_BEFORE), ("r2", ANN)):  # Ann changed her address
        ok = [Outcome(ANN_ID, "ok", subscriber_hash(address))]
        ledger.record(run, "set_properties", ok, hashes={ANN_ID: run})
    with mailchimp_server(mailchimp_ctx) as audience:
        upserts = map(MemberUpsert, [ANN, ANN_BEFORE])
        assert all(o.ok for o in audience.client.upsert_members(audience.list_id, upserts))
        result = erase(
            con,
            ErasureRequest(emails=(ANN,)),
            klaviyo=None,
            mailchimp=audience,
            run_id="r3",
            salt=SALT,
        )
        assert result.mailchimp_deletions == 2
        assert not {subscriber_hash(ANN), subscriber_hash(ANN_BEFORE)} & members(audience)
    assert not mentions(everything(con), subscriber_hash(ANN_BEFORE))


def test_a_table_whose_name_needs_quoting_is_purged_too(con):
    con.execute(f"""create table marts."segment export-v2" as select * from (values
        ('{ANN_ID}', 'vip'), ('{BOB_ID}', 'vip')) as t(customer_id, segment)""")
    result = erase(con, ErasureRequest(customer_ids=(ANN_ID,)), klaviyo=None, run_id="r", salt=SALT)
    assert result.deleted_rows["marts.segment export-v2"] == 1
    assert con.execute('select customer_id from marts."segment export-v2"').fetchall() == [
        (BOB_ID,)
    ]
