"""Raw table specs: typed extraction and validation of the records each source yields."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from pipeline.lib.ingest.raw_records import RAW_TABLES, Column, RecordSpec
from pipeline.lib.ingest.record_batches import record_batches
from pipeline.lib.ingest.record_sql import json_path, staging_sql

SHOPIFY_ORDER = {
    "id": "gid://shopify/Order/5100000000001",
    "createdAt": "2024-03-05T14:30:00Z",
    "updatedAt": "2024-03-06T08:00:00Z",
    "processedAt": "2024-03-05T09:30:00-05:00",
    "cancelledAt": None,
    "test": False,
    "customer": {"id": "gid://shopify/Customer/6100000000001"},
    "totalPriceSet": {
        "shopMoney": {"amount": "42.5", "currencyCode": "EUR"},
        "presentmentMoney": {"amount": "42.5", "currencyCode": "EUR"},
    },
    "lineItems": [{"id": "gid://shopify/LineItem/1", "quantity": 2, "sku": "TEA-1"}],
}
KLAVIYO_EVENT = {
    "type": "event",
    "id": "4F7sQ9",
    "attributes": {
        "timestamp": 1709629200,
        "datetime": "2024-03-05T14:30:00+05:30",
        "event_properties": {"$value": 19.9, "OrderId": 7},
        "uuid": "a7d2c6f0-0000-0000-0000-000000000000",
    },
    "relationships": {
        "metric": {"data": {"type": "metric", "id": "RcVxyz"}},
        "profile": {"data": {"type": "profile", "id": "01HPROFILE"}},
    },
}

# One realistic record per raw table, shaped as the clients (and the CSV reader) yield them.
EXAMPLES = {
    ("shopify", "customers"): {
        "id": "gid://shopify/Customer/6100000000001",
        "email": "ada@example.com",
        "createdAt": "2024-01-02T10:00:00Z",
        "updatedAt": "2024-03-01T10:00:00Z",
    },
    ("shopify", "orders"): SHOPIFY_ORDER,
    ("shopify", "products"): {"id": "gid://shopify/Product/1", "updatedAt": "2024-01-01T00:00:00Z"},
    ("shopify", "abandoned_checkouts"): {
        "id": "gid://shopify/AbandonedCheckout/3",
        "createdAt": "2024-02-01T00:00:00Z",
        "updatedAt": "2024-02-01T01:00:00Z",
        "customer": None,
    },
    ("klaviyo", "profiles"): {
        "type": "profile",
        "id": "01HPROFILE",
        "attributes": {"email": None, "updated": "2024-03-01T10:00:00+00:00"},
    },
    ("klaviyo", "events"): KLAVIYO_EVENT,
    ("klaviyo", "lists"): {
        "id": "Xy12Ab",
        "attributes": {"name": "Newsletter", "updated": "2024-01-01T00:00:00+00:00"},
    },
    ("klaviyo", "metrics"): {
        "id": "RcVxyz",
        "attributes": {"name": "Placed Order", "updated": "2024-01-01T00:00:00+00:00"},
    },
    ("mailchimp", "members"): {
        "id": "0f5e8e4b0c3a1f2d9e8b7a6c5d4e3f21",
        "email_address": "ana@example.com",
        "status": "subscribed",
        "last_changed": "2024-03-01T10:00:00+00:00",
    },
    ("mailchimp", "campaigns"): {"id": "42694e9e57", "send_time": "2024-03-01T15:00:00+00:00"},
    ("mailchimp", "email_activity"): {
        "id": "9b1c0f8e2d3a4b5c6d7e8f9a0b1c2d3e",
        "campaign_id": "42694e9e57",
        "email_id": "0f5e8e4b0c3a1f2d9e8b7a6c5d4e3f21",
        "action": "open",
        "timestamp": "2024-03-01T16:00:00+00:00",
    },
    ("files", "orders"): {
        "order_id": "1001",
        "customer_id": "c1",
        "ordered_at": "2024-03-05T14:30:00Z",
        "total": "20.50",
        "quantity": "2",
    },
}


def stage(spec: RecordSpec, records: list, con=None) -> list[dict]:
    """The staging SELECT's rows for these records, as dicts."""
    con = con or duckdb.connect()
    batch = pa.table(
        {
            "_ord": list(range(len(records))),
            "_error": pa.nulls(len(records), pa.string()),
            "record": [json.dumps(r) for r in records],
        }
    )
    con.register("batch", batch)
    result = con.execute(staging_sql(spec, "batch") + " order by _ord")
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def test_every_source_entity_has_a_raw_table():
    assert set(RAW_TABLES) == set(EXAMPLES)
    for (source, table), spec in RAW_TABLES.items():
        assert (spec.schema, spec.table) == (f"raw_{source}", table)
        assert spec.key.name == ("order_id" if source == "files" else "id")
        assert spec.key.required
        assert spec.mode == ("insert_once" if table in ("events", "email_activity") else "merge")


@pytest.mark.parametrize("key", list(EXAMPLES), ids="/".join)
def test_realistic_records_pass_with_every_typed_column_filled_where_present(key):
    [row] = stage(RAW_TABLES[key], [EXAMPLES[key]])
    assert row["_reason"] is None
    assert row[RAW_TABLES[key].key.name] is not None
    for column in RAW_TABLES[key].columns:
        if column.required:
            assert row[column.name] is not None, column.name


def test_shopify_order_columns_are_typed_and_offsets_become_utc():
    [row] = stage(RAW_TABLES["shopify", "orders"], [SHOPIFY_ORDER])
    assert row["id"] == "gid://shopify/Order/5100000000001"
    assert row["processed_at"] == datetime(2024, 3, 5, 14, 30)
    assert row["customer_id"] == "gid://shopify/Customer/6100000000001"
    assert (row["total"], row["currency"], row["test"]) == (42.5, "EUR", False)
    assert row["cancelled_at"] is None


def test_klaviyo_event_columns_follow_relationships_and_the_dollar_value_key():
    [row] = stage(RAW_TABLES["klaviyo", "events"], [KLAVIYO_EVENT])
    assert row["occurred_at"] == datetime(2024, 3, 5, 9, 0)
    assert (row["metric_id"], row["profile_id"], row["value"]) == ("RcVxyz", "01HPROFILE", 19.9)


def test_timestamps_do_not_depend_on_the_session_time_zone():
    con = duckdb.connect()
    con.execute("set TimeZone = 'America/New_York'")
    records = [
        {**EXAMPLES["files", "orders"], "ordered_at": text}
        for text in ("2024-03-05 14:30:00", "2024-03-05T14:30:00Z", "2024-03-05T20:00:00+0530")
    ]
    rows = stage(RAW_TABLES["files", "orders"], records, con)
    assert {row["ordered_at"] for row in rows} == {datetime(2024, 3, 5, 14, 30)}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing id"),
        ({"id": "  "}, "missing id"),
        ({"attributes": {"event_properties": {"$value": 1}}}, "missing datetime"),
        ({"attributes": {"datetime": "2024-02-30T00:00:00Z"}}, "unparsable timestamp datetime"),
        (
            {
                "attributes": {
                    "datetime": "2024-03-05T00:00:00Z",
                    "event_properties": {"$value": "12,50"},
                }
            },
            "non-numeric $value",
        ),
        (
            {
                "attributes": {
                    "datetime": "2024-03-05T00:00:00Z",
                    "event_properties": {"$value": "NaN"},
                }
            },
            "non-numeric $value",
        ),
        (
            {"id": None, "attributes": {"datetime": "soon"}},
            "missing id; unparsable timestamp datetime",
        ),
    ],
)
def test_bad_records_get_every_reason(change, reason):
    [row] = stage(RAW_TABLES["klaviyo", "events"], [KLAVIYO_EVENT | change])
    assert row["_reason"] == reason


def test_optional_fields_may_be_absent_but_not_malformed():
    spec = RAW_TABLES["klaviyo", "events"]
    no_value = KLAVIYO_EVENT | {"attributes": {"datetime": "2024-03-05T00:00:00Z"}}
    as_text = KLAVIYO_EVENT | {
        "attributes": {"datetime": "2024-03-05T00:00:00Z", "event_properties": {"$value": "7.5"}}
    }
    assert [(r["_reason"], r["value"]) for r in stage(spec, [no_value, as_text])] == [
        (None, None),
        (None, 7.5),
    ]
    order = EXAMPLES["files", "orders"] | {"quantity": "two"}
    [row] = stage(RAW_TABLES["files", "orders"], [order])
    assert row["_reason"] == "non-integer quantity"


def test_a_required_amount_must_be_there_and_numeric():
    spec = RAW_TABLES["shopify", "orders"]
    missing = {k: v for k, v in SHOPIFY_ORDER.items() if k != "totalPriceSet"}
    text = SHOPIFY_ORDER | {"totalPriceSet": {"shopMoney": {"amount": "12,50"}}}
    assert [r["_reason"] for r in stage(spec, [missing, text])] == [
        "missing amount",
        "non-numeric amount",
    ]


def test_json_paths_quote_every_key():
    assert json_path("attributes.event_properties.$value") == (
        '$."attributes"."event_properties"."$value"'
    )


def test_specs_reject_unknown_types_and_modes():
    with pytest.raises(ValueError, match="type"):
        Column("x", "x", "integer")
    with pytest.raises(ValueError, match="mode"):
        RecordSpec("raw_x", "t", Column("id", "id", "varchar"), [], "upsert")


def test_record_batches_hold_canonical_json_and_flag_what_is_not_json():
    records = [{"b": 1, "a": {"d": None, "c": "é"}}, {"a": float("nan")}, {"a": Decimal("1")}]
    [first, second] = record_batches(records, size=2)
    assert first.column("record").to_pylist() == ['{"a":{"c":"é","d":null},"b":1}', '{"a":null}']
    assert first.column("_error").to_pylist() == [None, None]
    assert second.column("_error").to_pylist() == ["record is not JSON-serialisable"]
    assert second.column("_ord").to_pylist() == [0]
