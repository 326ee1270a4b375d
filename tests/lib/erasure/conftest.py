"""Fixtures of the erasure tests: the hand-made warehouse and the Mailchimp audience."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from pipeline.lib.clients.mailchimp import MemberUpsert, subscriber_hash
from pipeline.lib.erasure.run import MailchimpAudience
from sandbox.context import SandboxContext
from tests.lib.erasure.erasure_fixtures import (
    ANN,
    ANN_BEFORE,
    ANN_ID,
    BOB_ID,
    load,
    mailchimp_server,
)
from tests.sandbox.klaviyo_fixtures import make_ctx


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
