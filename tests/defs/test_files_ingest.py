"""The order-history CSV import: loads, quarantines bad rows, re-imports idempotently, explains."""

from __future__ import annotations

import dagster as dg
import pytest

from pipeline.defs.ingest.files import files_orders
from pipeline.defs.resources import WarehouseResource
from tests.defs.ingest_helpers import metadata, snapshot

CSV = """Customer_ID,ordered_at,total,email,product
c1,2024-01-05T10:00:00Z,20.50,a@example.com,Kenya AA
c1,2024-02-05T10:00:00+01:00,18.00,a@example.com,Kenya AA
c2,2024-02-07 09:30:00,not-a-number,b@example.com,Earl Grey
c3,2024-03-01T08:00:00Z,12.00,,Sencha
"""


def _import(path, warehouse, **config):
    return dg.materialize(
        [files_orders],
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        run_config={"ops": {"files__orders": {"config": {"path": str(path), **config}}}},
        raise_on_error=False,
    )


def test_csv_rows_load_and_bad_rows_are_quarantined_with_a_reason(tmp_path):
    path, warehouse = tmp_path / "orders.csv", tmp_path / "w.duckdb"
    path.write_text(CSV)
    result = _import(path, warehouse, max_quarantined_share=0.5)
    assert result.success
    counts = metadata(result, "files", "orders")
    assert (counts["fetched"], counts["loaded"], counts["quarantined"]) == (4, 3, 1)
    first = snapshot(warehouse)
    assert len(first["raw_files.orders"]) == 3
    again = _import(path, warehouse, max_quarantined_share=0.5)
    assert metadata(again, "files", "orders")["inserted"] == 0
    assert snapshot(warehouse) == first


def test_quarantine_check_fails_past_the_limit(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    result = _import(path, tmp_path / "w.duckdb", max_quarantined_share=0.1)
    [check] = result.get_asset_check_evaluations()
    assert not check.passed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Order CSV not found"),
        ("customer_id,total\nc1,3\n", "ordered_at"),
        ("customer_id,ordered_at,total\nc1,yesterday,3\nc2,last week,4\n", "format"),
    ],
)
def test_unusable_files_fail_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "orders.csv"
    if content is not None:
        path.write_text(content)
    result = _import(path, tmp_path / "w.duckdb")
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert message in str(failures[0].event_specific_data.error)
