"""Ingest assets end to end against the sandbox on loopback: complete, idempotent, fault-proof."""

from __future__ import annotations

import shutil
from datetime import datetime

import dagster as dg
import pytest

from sandbox.shop.store import StoreView
from tests.conftest import SMALL_STORE
from tests.defs.ingest_helpers import HISTORY, ingest, metadata, sandbox, snapshot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loaded(small_store_ingest, tmp_path_factory):
    """The whole small-store history ingested once (shared by the session), then pulled again
    into a copy of it."""
    root, first, result = small_store_ingest
    warehouse = tmp_path_factory.mktemp("ingest") / "warehouse.duckdb"
    shutil.copy(first, warehouse)
    with sandbox(root / "sandbox") as url:
        again = ingest(url, warehouse, *HISTORY)
    return root, warehouse, result, again


def test_every_record_lands_once(loaded, small_store_path):
    _, warehouse, result, _ = loaded
    assert result.success
    tables = snapshot(warehouse)
    view = StoreView(small_store_path, datetime(2024, 8, 28))
    with view.cursor() as cur:
        for table, view_name in [
            ("raw_shopify.customers", "v_shopify_customers"),
            ("raw_shopify.orders", "v_orders"),
            ("raw_shopify.products", "v_products"),
            ("raw_shopify.abandoned_checkouts", "v_abandoned_checkouts"),
            ("raw_klaviyo.profiles", "v_klaviyo_profiles"),
            ("raw_klaviyo.metrics", "v_metrics"),
        ]:
            (expected,) = cur.execute(f"select count(*) from {view_name}").fetchall()[0]
            assert len(tables[table]) == expected, table
        (events,) = cur.execute("select count(*) from v_events").fetchall()[0]
    quarantined = len(tables.get("raw_klaviyo.events_quarantine", []))
    assert quarantined > 0, "the store's malformed $value events must be quarantined"
    assert len(tables["raw_klaviyo.events"]) + quarantined == events
    counts = metadata(result, "klaviyo", "events")
    assert counts["fetched"] == counts["loaded"] + counts["quarantined"] == events


def test_quarantine_check_passes_under_the_limit(loaded):
    _, _, result, _ = loaded
    checks = result.get_asset_check_evaluations()
    assert checks and all(check.passed for check in checks)


def test_a_second_run_changes_nothing(loaded):
    _, _, _, again = loaded
    assert again.success
    counts = metadata(again, "shopify", "orders")
    assert counts["inserted"] == counts["updated"] == 0
    assert counts["unchanged"] == counts["loaded"] > 0


def test_backfill_of_a_range_repulls_it_and_changes_nothing_else(loaded, tmp_path):
    root, warehouse, _, _ = loaded
    before = snapshot(warehouse)
    with sandbox(root / "sandbox") as url:
        result = ingest(url, warehouse, "2024-03-01", "2024-03-10")
    counts = metadata(result, "shopify", "orders")
    assert 0 < counts["fetched"] == counts["unchanged"]
    assert snapshot(warehouse) == before


def test_faults_leave_the_warehouse_equal_row_for_row(loaded, tmp_path):
    _, clean_warehouse, _, _ = loaded
    warehouse = tmp_path / "warehouse.duckdb"
    with sandbox(tmp_path / "sandbox", faults="429=0.1,5xx=0.05,drop=0.02") as url:
        result = ingest(url, warehouse, *HISTORY)
    assert result.success
    assert sum(metadata(result, *key)["retried"] for key in [("shopify", "orders"),
               ("klaviyo", "events"), ("klaviyo", "profiles")]) > 0  # fmt: skip
    assert snapshot(warehouse) == snapshot(clean_warehouse)


def test_a_rejected_key_fails_with_a_plain_message_and_no_retries(tmp_path):
    with sandbox(tmp_path / "sandbox") as url:
        result = ingest(url, tmp_path / "w.duckdb", "2024-03-01", "2024-03-01", key="wrong",
                        raise_on_error=False)  # fmt: skip
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    messages = " ".join(str(e.event_specific_data.error) for e in failures)
    assert "rejected the API key: check" in messages
    assert "wrong" not in messages.replace("wrong password", "")


def test_a_daily_run_of_the_next_day_ingests_exactly_that_day(loaded, tmp_path):
    root, history_warehouse, _, _ = loaded
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(history_warehouse, warehouse)
    before = snapshot(warehouse)
    day, next_day = datetime(2024, 8, 28), datetime(2024, 8, 29)
    with sandbox(root / "sandbox", now=next_day) as url:
        result = ingest(url, warehouse, "2024-08-28", "2024-08-28")
    assert result.success
    after = snapshot(warehouse)
    view = StoreView(root / "sandbox" / "stores" / SMALL_STORE.file_name(), next_day)
    with view.cursor() as cur:
        for table, view_name, column in [
            ("raw_shopify.orders", "v_orders", "created_at"),
            ("raw_klaviyo.events", "v_events", "occurred_at"),
        ]:
            (that_day,) = cur.execute(
                f"select count(*) from {view_name} where {column} >= ? and {column} < ?",
                [day, next_day],
            ).fetchall()[0]
            quarantined = len(after.get(f"{table}_quarantine", [])) - len(
                before.get(f"{table}_quarantine", [])
            )
            assert that_day > 0, view_name
            assert len(after[table]) + quarantined - len(before[table]) == that_day, table
    view.close()
    orders = metadata(result, "shopify", "orders")
    assert orders["inserted"] > 0
