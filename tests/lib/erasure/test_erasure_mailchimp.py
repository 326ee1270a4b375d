"""Erasure in Mailchimp: the person's members are deleted on the Mailchimp emulator (tiny store,
127.0.0.1) before the warehouse is touched, once; and an older erasure log gains its column."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipeline.lib.clients.http import ApiError
from pipeline.lib.clients.mailchimp import MemberUpsert, subscriber_hash
from pipeline.lib.erasure.keys import (
    salt_fingerprint,
)
from pipeline.lib.erasure.request import ErasureRequest, parse_identifier
from pipeline.lib.erasure.resolve import ErasureError
from pipeline.lib.erasure.run import erase
from pipeline.lib.sync.ledger import SyncLedger
from pipeline.lib.sync.records import Outcome
from tests.lib.erasure.erasure_fixtures import (
    ANN,
    ANN_BEFORE,
    ANN_ID,
    BOB_ID,
    SALT,
    FakeKlaviyo,
    everything,
    load,
    mailchimp_server,
    members,
    mentions,
)


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


def test_a_person_known_to_mailchimp_as_a_source_is_erased_there_and_in_the_warehouse(
    con, mailchimp
):
    """Mailchimp as a source: members and their activity in raw tables, a Mailchimp identity
    in the identity graph. Named by customer_id or by member id, all of it goes, Bob's stays."""
    ann_member, bob_member = subscriber_hash(ANN), subscriber_hash("bob@example.com")
    member = lambda email: {  # noqa: E731
        "id": subscriber_hash(email), "email_address": email, "status": "subscribed",
        "last_changed": "2024-03-01T00:00:00+00:00",
    }  # fmt: skip
    activity = lambda email, n: {  # noqa: E731
        "id": f"act{n}", "campaign_id": "c1", "email_id": subscriber_hash(email),
        "email_address": email, "action": "open", "timestamp": "2024-03-02T00:00:00+00:00",
    }  # fmt: skip
    load(
        con,
        {
            ("mailchimp", "members"): [member(ANN), member("bob@example.com")],
            ("mailchimp", "email_activity"): [activity(ANN, 1), activity("bob@example.com", 2)],
        },
    )
    con.execute(
        "insert into intermediate.int_customer_identities values (?, 'mailchimp', ?, ?, ?),"
        " (?, 'mailchimp', ?, 'bob@example.com', ?)",
        [f"mailchimp:{ann_member}", ann_member, ANN, ANN_ID,
         f"mailchimp:{bob_member}", bob_member, BOB_ID],
    )  # fmt: skip
    request = parse_identifier(f"mailchimp:{ann_member.upper()}", "line 1")
    result = erase(con, request, klaviyo=None, mailchimp=mailchimp, run_id="r1", salt=SALT)
    assert result.deleted_rows["raw_mailchimp.members"] == 1
    assert result.deleted_rows["raw_mailchimp.email_activity"] == 1
    assert result.deleted_rows["intermediate.int_customer_identities"] == 3
    assert ann_member not in members(mailchimp) and bob_member in members(mailchimp)
    after = everything(con)
    assert not mentions(after, ANN) and not mentions(after, ann_member)
    assert mentions(after, bob_member) and mentions(after, BOB_ID)


def test_an_identity_from_a_source_erasure_does_not_know_stops_it_before_anything_is_erased(con):
    con.execute(
        "insert into intermediate.int_customer_identities values ('shop:9', 'shop', '9', ?, ?)",
        [ANN, ANN_ID],
    )
    before = everything(con)
    with pytest.raises(ErasureError, match="identity from 'shop'"):
        erase(con, ErasureRequest(emails=(ANN,)), klaviyo=None, run_id="r1", salt=SALT)
    assert everything(con) == before
