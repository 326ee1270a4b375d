"""Erasure end to end on the small sandbox store: build everything, erase one person known to
both platforms (with orders, email events, a CSV order and a quarantined event) through the
`erasure` asset and a `customers/redact` payload, then prove that no table holds their email or
ids, that Klaviyo got the deletion request, that their Mailchimp member is deleted for good, and
that a backfill and a rebuild do not bring them back."""

from __future__ import annotations

import json
import re
import shutil

import dagster as dg
import pytest
import requests

from pipeline.defs.activation.erasure import erasures
from pipeline.defs.resources import MailchimpResource
from pipeline.lib.clients.http import ApiSession
from pipeline.lib.clients.klaviyo_writes import KlaviyoWriteClient
from pipeline.lib.clients.mailchimp import MailchimpClient, subscriber_hash
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.sync.ledger import SyncLedger
from tests.dbt.dbt_helpers import dbt, unexpected_statuses
from tests.dbt.test_segments_build import FABRICATED_SCORES
from tests.defs.ingest_helpers import HISTORY, ingest, metadata, resources, sandbox

pytestmark = pytest.mark.integration

# A Shopify customer whose email is also a Klaviyo profile's, with orders and email events;
# an email no other address ends with, so a plain case-insensitive search is exact.
PERSON = """
select c.id, c.email, p.id
from raw_shopify.customers as c
join raw_klaviyo.profiles as p on lower(trim(p.email)) = lower(trim(c.email))
where exists (select 1 from raw_shopify.orders as o where o.customer_id = c.id)
    and (select count(*) from raw_klaviyo.events as e where e.profile_id = p.id) >= 3
    and not exists (
        select 1 from raw_shopify.customers as other
        where lower(other.email) like '%_' || lower(trim(c.email))
    )
order by c.id
limit 1
"""


def csv_order(order_id: str, customer: str, email: str) -> dict:
    return {
        "order_id": order_id,
        "customer_id": customer,
        "ordered_at": "2024-05-01T10:00:00",
        "total": "20.00",
        "email": email,
        "category": "coffee",
    }


def hits(warehouse, email: str, tokens: list[str]) -> dict[str, int]:
    """Rows per table (every table of the warehouse, its text and JSON columns) holding the
    email (case-insensitive) or one of the ids as a whole token. Views are left out: they only
    show what their tables hold."""
    pattern = "(^|[^A-Za-z0-9_])(" + "|".join(map(re.escape, tokens)) + ")($|[^A-Za-z0-9_])"
    found = {}
    with connect(warehouse, read_only=True) as con:
        columns = con.execute(
            "select table_schema || '.' || table_name, list(column_name) "
            "from information_schema.columns join information_schema.tables "
            "using (table_catalog, table_schema, table_name) "
            "where (data_type like '%VARCHAR%' or data_type like '%JSON%') "
            "and table_type = 'BASE TABLE' and table_catalog = current_database() group by 1"
        ).fetchall()
        for table, names in columns:
            text = " || ' ' || ".join(
                f"""coalesce(cast("{name}" as varchar), '')""" for name in names
            )
            (count,) = con.execute(
                f"select count(*) from {table} "
                f"where contains(lower({text}), $email) or regexp_matches({text}, $ids)",
                {"email": email, "ids": pattern},
            ).fetchone()
            if count:
                found[table] = count
    return found


def member_ids(mailchimp: MailchimpClient, list_id: str) -> set[str]:
    return {m["id"] for m in mailchimp.iter_members(list_id, fields=["id"])}


def test_an_erased_person_is_gone_everywhere_and_stays_gone(tmp_path, raw_warehouse):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(raw_warehouse, warehouse)
    with connect(warehouse) as con:
        gid, raw_email, profile_id = con.execute(PERSON).fetchone()
        email = raw_email.strip().lower()
        extra = {
            ("files", "orders"): [
                csv_order("csv-erase-1", "CSV-ERASE", f"  {email.upper()} "),
                csv_order("csv-keep-1", "CSV-KEEP", "someone.else@example.com"),
            ],
            ("klaviyo", "events"): [
                {
                    "id": "erase-bad-1",
                    "attributes": {
                        "datetime": "2024-05-01T00:00:00+00:00",
                        "event_properties": {"$value": "12,5"},
                    },
                    "relationships": {"profile": {"data": {"id": profile_id}}},
                }
            ],
        }
        for key, records in extra.items():
            load_records(con, RAW_TABLES[key], records, "setup")
    # `run`, not `build`: dbt's tests are not what this test is about, and take half the time
    assert not unexpected_statuses(dbt(warehouse, tmp_path / "build", "run"))
    with connect(warehouse) as con:
        [(customer_id,)] = con.execute(
            "select distinct customer_id from intermediate.int_customer_identities "
            "where identity_key = ?",
            [f"klaviyo:{profile_id}"],
        ).fetchall()
        con.execute(FABRICATED_SCORES)
        SyncLedger(con, "klaviyo")
        con.execute(
            "insert into activation.sync_state (destination, customer_id, contact_id,"
            " properties_hash, acknowledged_at, run_id, synced_properties)"
            " select 'klaviyo', customer_id, klaviyo_profile_id, 'h', now(), 'sync-1',"
            ' \'{"foresight_churn_tier": "high"}\' from marts.customers'
            " where klaviyo_profile_id is not null"
        )
        kept_customers = con.execute("select count(*) from marts.customers").fetchone()[0]
        # what Klaviyo held before the erasure: replayed below as a late backfill would
        klaviyo_records = {
            key: [
                json.loads(r)
                for (r,) in con.execute(
                    f"select record from {RAW_TABLES[key].name} where {column} = ?", [profile_id]
                ).fetchall()
            ]
            for key, column in (
                (("klaviyo", "profiles"), "id"),
                (("klaviyo", "events"), "profile_id"),
            )
        }
    tokens = [customer_id, gid, gid.rsplit("/", 1)[-1], profile_id, "CSV-ERASE"]
    before = hits(warehouse, email, tokens)
    for table in (
        "raw_shopify.orders",
        "raw_klaviyo.events_quarantine",
        "raw_files.orders",
        "marts.email_events",
        "marts.orders",
        "ml.customer_scores",
        "activation.sync_state",
    ):
        assert table in before, table

    payload = {
        "shop_id": 1,
        "shop_domain": "foresight-coffee.example",
        "customer": {"id": int(gid.rsplit("/", 1)[-1]), "email": f" {email.upper()}"},
        "orders_to_redact": [],
    }
    with sandbox(tmp_path / "sandbox") as url:
        mailchimp = MailchimpClient(f"{url}/3.0", "sandbox-key")
        list_id = mailchimp.find_audience()["id"]
        assert subscriber_hash(email) in member_ids(mailchimp, list_id)
        erased = dg.materialize(
            [erasures],
            resources={
                **resources(url, warehouse),
                "mailchimp": MailchimpResource(api_url=f"{url}/3.0", api_key="sandbox-key"),
            },
            run_config={
                "ops": {"activation__erasures": {"config": {"payload": json.dumps(payload)}}}
            },
        )
        assert erased.success
        counts = metadata(erased, "activation", "erasures")
        state = requests.get(f"{url}/sandbox/state", timeout=30).json()
        klaviyo = KlaviyoWriteClient(url, "sandbox-key", ApiSession("Klaviyo", "KLAVIYO_API_KEY"))
        assert klaviyo.marketing_consent(emails=[email]) == {}
        assert subscriber_hash(email) not in member_ids(mailchimp, list_id)
        assert hits(warehouse, email, tokens) == {}

        # a backfill of the whole history, then a rebuild
        backfill = ingest(url, warehouse, *HISTORY)
    assert backfill.success
    assert counts["klaviyo_deletion_requests"] == state["deletion_requests"] == 1
    assert counts["mailchimp_members_deleted"] == 1
    assert counts["identities_found"] >= 3 and counts["rows_deleted"] > 0
    assert email not in str(counts).lower() and customer_id not in str(counts)
    assert metadata(backfill, "shopify", "customers")["erased_skipped"] >= 1
    assert metadata(backfill, "shopify", "orders")["erased_skipped"] >= 1
    with connect(warehouse) as con:
        replayed = {
            key: load_records(con, RAW_TABLES[key], records, "late")
            for key, records in {
                **klaviyo_records,
                ("files", "orders"): extra["files", "orders"],
            }.items()
        }
    assert {key: r.erased_skipped for key, r in replayed.items()} == {
        ("klaviyo", "profiles"): 1,
        ("klaviyo", "events"): len(klaviyo_records["klaviyo", "events"]),
        ("files", "orders"): 1,
    }
    results = dbt(warehouse, tmp_path / "rebuild", "run")
    assert not unexpected_statuses(results)
    assert hits(warehouse, email, tokens) == {}
    with connect(warehouse, read_only=True) as con:
        assert (
            con.execute("select count(*) from marts.customers").fetchone()[0] == kept_customers - 1
        )
