"""The bad-input catalogue: each kind of broken record or file, across API payloads (Shopify,
Klaviyo) and CSV exports, with its expected outcome: loaded, quarantined with a reason that
names the field, or (a file that cannot be read as a whole) refused with an error naming the
column or the problem. Every load balances: fetched == loaded + quarantined."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline.lib.ingest.csv_orders import CsvOrdersError, read_order_csv
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES

ORDER = {
    "id": "gid://shopify/Order/1",
    "updatedAt": "2024-03-01T10:00:00Z",
    "customer": {"id": "gid://shopify/Customer/1"},
    "email": "ann@example.com",
    "totalPriceSet": {"shopMoney": {"amount": "12.50", "currencyCode": "EUR"}},
}
EVENT = {
    "id": "e1",
    "attributes": {"datetime": "2024-03-05T14:30:00+00:00", "event_properties": {"$value": 3}},
    "relationships": {"profile": {"data": {"id": "P1", "type": "profile"}}},
}
PROFILE = {"id": "P1", "attributes": {"email": "ann@example.com", "updated": "2024-03-01T00:00Z"}}
BASE = {"shopify_orders": ORDER, "klaviyo_events": EVENT, "klaviyo_profiles": PROFILE}
SPEC = {
    "shopify_orders": RAW_TABLES["shopify", "orders"],
    "klaviyo_events": RAW_TABLES["klaviyo", "events"],
    "klaviyo_profiles": RAW_TABLES["klaviyo", "profiles"],
}
LOADED = None  # expected outcome: loaded as is


def edit(table: str, changes: dict) -> dict:
    """The base record of `table` with each dotted path in `changes` set to its value (deleted
    when the value is `...`)."""
    record = copy.deepcopy(BASE[table])
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = record
        for part in parents:
            node = node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return record


ORDERS, EVENTS, PROFILES = "shopify_orders", "klaviyo_events", "klaviyo_profiles"
AMOUNT = "totalPriceSet.shopMoney.amount"
BAD_DATE = "unparsable timestamp updatedAt"
NOT_A_NUMBER = "non-numeric amount"
# (kind, table, changes to its base record, expected quarantine reason or LOADED)
API_CASES = [
    ("missing id", ORDERS, {"id": ...}, "missing id"),
    ("blank id", ORDERS, {"id": "  "}, "missing id"),
    ("null id", ORDERS, {"id": None}, "missing id"),
    ("missing updatedAt", ORDERS, {"updatedAt": ...}, "missing updatedAt"),
    ("words for a date", ORDERS, {"updatedAt": "yesterday"}, BAD_DATE),
    ("partial date", ORDERS, {"updatedAt": "2024-03"}, BAD_DATE),
    ("day-first date in an ISO field", ORDERS, {"updatedAt": "05/03/2024"}, BAD_DATE),
    ("future date", ORDERS, {"updatedAt": "2999-01-01T00:00Z"}, LOADED),
    ("comma decimal total", ORDERS, {AMOUNT: "12,50"}, NOT_A_NUMBER),
    ("NaN total", ORDERS, {AMOUNT: "NaN"}, NOT_A_NUMBER),
    ("infinite total", ORDERS, {AMOUNT: "Infinity"}, NOT_A_NUMBER),
    ("absurd total", ORDERS, {AMOUNT: "1e17"}, "out-of-range amount (|value| >= 1e+16)"),
    ("negative total", ORDERS, {AMOUNT: "-12.50"}, LOADED),
    ("total as a JSON number", ORDERS, {AMOUNT: 12.5}, LOADED),
    ("total as an object", ORDERS, {AMOUNT: {"v": 1}}, NOT_A_NUMBER),
    ("null total", ORDERS, {AMOUNT: None}, "missing amount"),
    ("no price set at all", ORDERS, {"totalPriceSet": ...}, "missing amount"),
    (
        "several problems at once",
        ORDERS,
        {"id": ..., "updatedAt": "soon"},
        f"missing id; {BAD_DATE}",
    ),
    ("id as a number", ORDERS, {"id": 123}, LOADED),
    ("guest order (null customer)", ORDERS, {"customer": None}, LOADED),
    ("huge field (2 MB note)", ORDERS, {"note": "x" * 2_000_000}, LOADED),
    ("odd unicode in the email", ORDERS, {"email": "\u200bann\ufb01@example.com"}, LOADED),
    ("non-boolean test flag", ORDERS, {"test": "maybe"}, "non-boolean test"),
    (
        "a value JSON cannot hold",
        ORDERS,
        {"x": Decimal("1.5")},
        "record is not JSON-serialisable",
    ),
    (
        "non-numeric event value",
        EVENTS,
        {"attributes.event_properties.$value": "abc"},
        "non-numeric $value",
    ),
    ("event without a time", EVENTS, {"attributes.datetime": ...}, "missing datetime"),
    (
        "event time with an offset",
        EVENTS,
        {"attributes.datetime": "2024-03-05T14:30:00+05:30"},
        LOADED,
    ),
    ("event without a profile", EVENTS, {"relationships": ...}, LOADED),
    ("profile without attributes", PROFILES, {"attributes": None}, "missing updated"),
    (
        "email with a byte-order mark",
        PROFILES,
        {"attributes.email": "\ufeffann@example.com"},
        LOADED,
    ),
]


def balanced(result) -> None:
    assert result.fetched == result.loaded + result.quarantined + result.erased_skipped


@pytest.mark.parametrize(
    ("kind", "table", "changes", "reason"), API_CASES, ids=[c[0] for c in API_CASES]
)
def test_api_payload(kind, table, changes, reason):
    records = [edit(table, changes)]
    with duckdb.connect() as con:
        result = load_records(con, SPEC[table], records, "run")
        balanced(result)
        spec = SPEC[table]
        found = con.execute(f"select reason from {spec.quarantine}").fetchall()
    if reason is LOADED:
        assert (result.loaded, found) == (len(records), [])
    else:
        assert result.quarantined == len(records)
        assert [r for (r,) in found] == [reason]


def test_duplicate_ids_with_different_content_keep_the_newest():
    older = edit(ORDERS, {"email": "old@example.com"})
    newer = edit(ORDERS, {"updatedAt": "2024-04-01T00:00:00Z"})
    with duckdb.connect() as con:
        result = load_records(con, SPEC["shopify_orders"], [newer, older], "run")
        balanced(result)
        rows = con.execute("select record ->> 'email' from raw_shopify.orders").fetchall()
    assert rows == [("ann@example.com",)]


# -- CSV exports ----------------------------------------------------------------------------------

HEADER = "customer_id,ordered_at,total,email\n"
GOOD = "c1,2024-03-01,12.50,ann@example.com\n"

# (kind, file bytes, expected: ("quarantined", reason) | ("loaded", n) | ("refused", message))
CSV_CASES = [
    ("byte-order mark", ("\ufeff" + HEADER + GOOD).encode(), ("loaded", 1)),
    (
        "latin-1 bytes in a field",
        HEADER.encode() + "c1,2024-03-01,12.50,jos\xe9@example.com\n".encode("latin-1"),
        ("refused", "UTF-8"),
    ),
    ("missing total column", b"customer_id,ordered_at\nc1,2024-03-01\n", ("refused", "total")),
    (
        "semicolon-separated",
        b"customer_id;ordered_at;total\nc1;2024-03-01;12.5\n",
        ("loaded", 1),
    ),
    ("empty file", b"", ("refused", "is empty")),
    ("header only", HEADER.encode(), ("loaded", 0)),
    (
        "empty customer_id",
        (HEADER + GOOD + ",2024-03-01,5.00,b@example.com\n").encode(),
        ("quarantined", "missing customer_id"),
    ),
    (
        "non-numeric total",
        (HEADER + GOOD + "c2,2024-03-01,abc,b@example.com\n").encode(),
        ("quarantined", "non-numeric total"),
    ),
    (
        "absurd total",
        (HEADER + GOOD + "c2,2024-03-01,99999999999999999,b@example.com\n").encode(),
        ("quarantined", "out-of-range total (|value| >= 1e+16)"),
    ),
    (
        "one bad date among good ones",
        (HEADER + GOOD * 3 + "c2,31/31/2024,5.00,b@x.io\n").encode(),
        ("quarantined", "unparsable timestamp ordered_at"),
    ),
    (
        "mixed date formats",
        (
            HEADER + "c1,2024-03-01,1,a@x.io\nc2,03/15/2024,1,b@x.io\nc3,15.03.2024,1,c@x.io\n"
        ).encode(),
        ("refused", "could not recognise the date format of ordered_at.*on line 3"),
    ),
    (
        "huge field",
        (HEADER + "c1,2024-03-01,12.50," + "x" * 1_000_000 + "\n").encode(),
        ("loaded", 1),
    ),
]


def load_csv(tmp_path: Path, content: bytes):
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    with duckdb.connect() as con:
        result = load_records(con, RAW_TABLES["files", "orders"], read_order_csv(path), "run")
        reasons = [
            r for (r,) in con.execute("select reason from raw_files.orders_quarantine").fetchall()
        ]
    return result, reasons


@pytest.mark.parametrize(("kind", "content", "expected"), CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_csv_export(tmp_path, kind, content, expected):
    outcome, detail = expected
    if outcome == "refused":
        with pytest.raises(CsvOrdersError, match=detail):
            load_csv(tmp_path, content)
        return
    result, reasons = load_csv(tmp_path, content)
    balanced(result)
    if outcome == "loaded":
        assert (result.loaded, reasons) == (detail, [])
    else:
        assert result.quarantined == 1 and reasons == [detail]


def test_the_catalogue_keeps_every_case():
    assert len(API_CASES) == 30 and len({kind for kind, *_ in API_CASES}) == 30
    assert len(CSV_CASES) == 12
