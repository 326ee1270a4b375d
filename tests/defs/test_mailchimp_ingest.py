"""Mailchimp ingest assets against the sandbox on loopback: a short range of daily partitions
lands every member, campaign and activity record once, a re-run changes nothing, a shop without
Mailchimp gets empty raw tables and a plain "not configured", and a malformed activity record is
quarantined with its reason."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest

from pipeline.defs.ingest.mailchimp import mailchimp_assets
from pipeline.defs.partitions import partition_range_tags
from pipeline.defs.resources import MailchimpResource, WarehouseResource
from pipeline.lib.clients.mailchimp import MailchimpClient
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from tests.defs.ingest_helpers import metadata, sandbox, snapshot

RANGE = ("2024-08-13", "2024-08-27")


def _run(url: str | None, warehouse):
    mailchimp = MailchimpResource(api_url=f"{url}/3.0", api_key="sandbox-key") if url else None
    return dg.materialize(
        mailchimp_assets,
        resources={
            "mailchimp": mailchimp or MailchimpResource(),
            "warehouse": WarehouseResource(path=str(warehouse)),
        },
        tags=partition_range_tags(*RANGE),
    )


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("mailchimp")
    warehouse = root / "warehouse.duckdb"
    with sandbox(root / "sandbox") as url:
        first = _run(url, warehouse)
        tables = snapshot(warehouse)
        again = _run(url, warehouse)
        client = MailchimpClient(f"{url}/3.0", "sandbox-key")
        list_id = client.find_audience()["id"]
        low = datetime(2024, 8, 13, tzinfo=UTC)
        high = datetime(2024, 8, 28, tzinfo=UTC)
        expected = {
            "members": len(list(client.fetch_members_changed_between(list_id, low, high))),
            "campaigns": len(list(client.fetch_campaigns_sent_between(list_id, low, high))),
            "email_activity": len(list(client.fetch_email_activity_between(list_id, low, high))),
        }
    return warehouse, first, tables, again, expected


def test_a_range_lands_every_record_once(loaded):
    _, first, tables, _, expected = loaded
    assert first.success
    for table, count in expected.items():
        assert count > 0
        assert len(tables[f"raw_mailchimp.{table}"]) == count, table
        assert metadata(first, "mailchimp", table)["loaded"] == count
    with duckdb.connect(str(loaded[0]), read_only=True) as con:
        actions = con.sql("select distinct action from raw_mailchimp.email_activity").fetchall()
    assert {"sent", "open", "click"} <= {action for (action,) in actions}


def test_a_second_run_changes_nothing(loaded):
    warehouse, _, tables, again, _ = loaded
    assert again.success
    assert snapshot(warehouse) == tables
    for table in ("members", "campaigns", "email_activity"):
        counts = metadata(again, "mailchimp", table)
        assert counts["inserted"] == counts["updated"] == 0


def test_without_mailchimp_the_tables_exist_empty_and_say_why(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    result = _run(None, warehouse)
    assert result.success
    assert metadata(result, "mailchimp", "email_activity")["status"] == "not configured"
    assert all(not rows for table, rows in snapshot(warehouse).items() if "mailchimp" in table)
    assert {t for t in snapshot(warehouse) if t.startswith("raw_mailchimp.")} >= {
        "raw_mailchimp.members",
        "raw_mailchimp.campaigns",
        "raw_mailchimp.email_activity",
    }


def test_a_malformed_activity_record_is_quarantined_with_its_reason():
    good = {
        "id": "a",
        "campaign_id": "c",
        "email_id": "m",
        "action": "open",
        "timestamp": "2024-08-20T10:00:00+00:00",
        "email_address": "a@example.com",
    }
    bad = {**good, "id": "b", "timestamp": "yesterday", "action": None}
    with duckdb.connect() as con:
        result = load_records(con, RAW_TABLES[("mailchimp", "email_activity")], [good, bad], "r")
        ((reason,),) = con.sql(
            "select reason from raw_mailchimp.email_activity_quarantine"
        ).fetchall()
    assert (result.loaded, result.quarantined) == (1, 1)
    assert "unparsable timestamp" in reason and "missing action" in reason
