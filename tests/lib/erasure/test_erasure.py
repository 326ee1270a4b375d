"""Erasure from the warehouse: the person goes from every table (and only the person), only
salted hashes remain, re-running is a no-op, and later loads skip them."""

from __future__ import annotations

import json

import duckdb
import pytest

from pipeline.lib.erasure.keys import (
    ErasureSaltError,
    hash_sql,
    identifier_hash,
)
from pipeline.lib.erasure.request import ErasureRequest, parse_redact_payload
from pipeline.lib.erasure.run import ErasureError, erase
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from tests.lib.erasure.erasure_fixtures import (
    ANN,
    ANN_ID,
    BOB_ID,
    RECORDS,
    SALT,
    SHOPIFY_ANN,
    FakeKlaviyo,
    everything,
    load,
    mentions,
    profile,
)


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


def test_a_profile_our_sync_created_is_deleted_when_asked_by_customer_id(con):
    # The sync created PSYNC for Ann; no Klaviyo ingest has loaded it yet.
    con.execute(
        f"update activation.sync_state set contact_id = 'PSYNC' where customer_id = '{ANN_ID}'"
    )
    klaviyo = FakeKlaviyo()
    erase(con, ErasureRequest(customer_ids=(ANN_ID,)), klaviyo=klaviyo, run_id="r1", salt=SALT)
    assert sorted(d["profile_id"] for d in klaviyo.deletions) == ["PANN", "PSYNC"]


def test_a_table_whose_name_needs_quoting_is_purged_too(con):
    con.execute(f"""create table marts."segment export-v2" as select * from (values
        ('{ANN_ID}', 'vip'), ('{BOB_ID}', 'vip')) as t(customer_id, segment)""")
    result = erase(con, ErasureRequest(customer_ids=(ANN_ID,)), klaviyo=None, run_id="r", salt=SALT)
    assert result.deleted_rows["marts.segment export-v2"] == 1
    assert con.execute('select customer_id from marts."segment export-v2"').fetchall() == [
        (BOB_ID,)
    ]
