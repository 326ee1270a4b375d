"""Erasure on a small hand-made warehouse: the person goes from every table (and only the
person), only salted hashes remain, re-running is a no-op, and later loads skip them."""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from pipeline.lib.erasure import ErasureError, erase
from pipeline.lib.erasure_keys import ErasureSaltError, hash_sql, identifier_hash
from pipeline.lib.erasure_request import ErasureRequest, parse_redact_payload
from pipeline.lib.raw_records import RAW_TABLES
from pipeline.lib.warehouse import load_records

SALT = "test-salt"
ANN = "ann.lee@example.com"
ANN_ID = "a" * 32
BOB_ID = "b" * 32
SHOPIFY_ANN = "gid://shopify/Customer/11"
SHOPIFY_BOB = "gid://shopify/Customer/111"  # a longer id that starts like Ann's


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
