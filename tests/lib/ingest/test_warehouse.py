"""The warehouse: lock errors that name the fix, and idempotent, quarantining raw loads."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import duckdb
import pytest

from pipeline.lib.ingest.raw_load import LoadResult, load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES, Column, RecordSpec
from pipeline.lib.ingest.warehouse import WarehouseLockedError, connect

PROFILES = RAW_TABLES["klaviyo", "profiles"]
EVENTS = RAW_TABLES["klaviyo", "events"]


def profile(pid: str, updated: str = "2024-03-01T10:00:00+00:00", **attributes) -> dict:
    return {"type": "profile", "id": pid, "attributes": {"updated": updated, **attributes}}


def event(eid: str, value=12.5, when: str = "2024-03-05T14:30:00+05:30") -> dict:
    properties = {} if value is None else {"$value": value}
    return {"id": eid, "attributes": {"datetime": when, "event_properties": properties}}


def rows(con, table: str, order: str = "1") -> list[dict]:
    result = con.execute(f"select * from {table} order by {order}")
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def check(result: LoadResult) -> LoadResult:
    assert result.fetched == result.loaded + result.quarantined + result.erased_skipped
    assert result.loaded == result.inserted + result.updated + result.unchanged
    return result


@pytest.fixture
def con():
    with duckdb.connect() as con:
        yield con


def test_connect_creates_the_folder_and_closes_after_the_block(tmp_path):
    path = tmp_path / "nested" / "dir" / "warehouse.duckdb"
    with connect(path) as con:
        con.execute("create table t as select 1 as x")
    with connect(path, read_only=True) as con:
        assert con.execute("select x from t").fetchall() == [(1,)]
    with pytest.raises(duckdb.ConnectionException):
        con.execute("select 1")


def test_a_warehouse_held_by_another_process_fails_with_the_fix(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            "con = duckdb.connect(sys.argv[1])\n"
            "print('ready', flush=True)\n"
            "time.sleep(120)\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseLockedError) as error, connect(path):
            pass
    finally:
        holder.kill()
        holder.wait()
    message = str(error.value)
    assert str(path) in message
    assert f"PID {holder.pid}" in message
    # Opening it read-only is no way out: a read-only process blocks writers too.
    assert "even a read-only one blocks writers" in message and "run again" in message
    with connect(path) as con:  # released with its holder
        con.execute("select 1")


def test_first_load_inserts_and_keeps_the_whole_record(con):
    records = [profile("p1", email="a@example.com", extra={"nested": [1, 2]}), profile("p2")]
    result = check(load_records(con, PROFILES, records, "run-1"))
    assert (result.fetched, result.inserted, result.quarantined) == (2, 2, 0)
    [first, second] = rows(con, "raw_klaviyo.profiles")
    assert json.loads(first["record"]) == records[0]
    assert (first["id"], first["email"], first["_run_id"]) == ("p1", "a@example.com", "run-1")
    assert second["email"] is None
    assert con.execute(
        "select data_type from information_schema.columns "
        "where table_schema = 'raw_klaviyo' and table_name = 'profiles' and column_name = 'record'"
    ).fetchall() == [("JSON",)]


def test_reloading_identical_records_changes_nothing_not_even_the_stamps(con):
    records = [profile("p1", email="a@example.com"), profile("p2")]
    load_records(con, PROFILES, records, "run-1")
    before = rows(con, "raw_klaviyo.profiles")
    reordered = [dict(reversed(list(r.items()))) for r in records]  # same fields, other order
    result = check(load_records(con, PROFILES, reordered, "run-2"))
    assert (result.unchanged, result.inserted, result.updated) == (2, 0, 0)
    assert rows(con, "raw_klaviyo.profiles") == before


def test_a_changed_record_replaces_its_row_and_says_when(con):
    load_records(con, PROFILES, [profile("p1", email="old@example.com"), profile("p2")], "run-1")
    newer = profile("p1", "2024-04-01T00:00:00+02:00", email="new@example.com")
    result = check(load_records(con, PROFILES, [newer, profile("p2")], "run-2"))
    assert (result.updated, result.unchanged, result.inserted) == (1, 1, 0)
    p1, p2 = rows(con, "raw_klaviyo.profiles")
    assert (p1["email"], p1["updated_at"].isoformat(), p1["_run_id"]) == (
        "new@example.com",
        "2024-03-31T22:00:00",
        "run-2",
    )
    assert json.loads(p1["record"]) == newer
    assert p2["_run_id"] == "run-1"


@pytest.mark.parametrize("batch_size", [2, 100])
def test_repeated_keys_collapse_to_the_last_copy_within_and_across_batches(con, batch_size):
    records = [profile("p1", email="1"), profile("p2"), profile("p1", email="2"), profile("p3")]
    result = check(load_records(con, PROFILES, records, "run-1", batch_size=batch_size))
    assert result.fetched == result.loaded == 4
    assert result.inserted == 3
    assert [(r["id"], r["email"]) for r in rows(con, "raw_klaviyo.profiles")] == [
        ("p1", "2"),
        ("p2", None),
        ("p3", None),
    ]


def test_events_are_inserted_once_and_never_rewritten(con):
    load_records(con, EVENTS, [event("e1", 10.0)], "run-1")
    result = check(load_records(con, EVENTS, [event("e1", 99.0), event("e2")], "run-2"))
    assert (result.inserted, result.updated, result.unchanged) == (1, 0, 1)
    assert [(r["id"], r["value"], r["_run_id"]) for r in rows(con, "raw_klaviyo.events")] == [
        ("e1", 10.0, "run-1"),
        ("e2", 12.5, "run-2"),
    ]


def test_bad_records_are_quarantined_once_with_their_reasons(con):
    records = [
        event("e1"),
        event("e2", "12,50"),
        event("e3", when="not a date"),
        event(None),
        {"attributes": "no id at all"},
        {"id": "e4", "attributes": {"datetime": "2024-01-01", "amount": Decimal("1.5")}},
    ]
    for run in ("run-1", "run-2"):
        result = check(load_records(con, EVENTS, records, run))
        assert (result.fetched, result.loaded, result.quarantined) == (6, 1, 5)
    quarantine = rows(con, "raw_klaviyo.events_quarantine", "reason, source_id")
    assert [(q["source_id"], q["reason"]) for q in quarantine] == [
        (None, "missing id"),
        (None, "missing id; missing datetime"),
        ("e2", "non-numeric $value"),
        (None, "record is not JSON-serialisable"),
        ("e3", "unparsable timestamp datetime"),
    ]
    assert json.loads(quarantine[2]["payload"]) == records[1]
    assert {q["_run_id"] for q in quarantine} == {"run-1"}  # unchanged, so not rewritten


def test_a_good_version_of_a_quarantined_record_clears_its_quarantine_row(con):
    load_records(con, EVENTS, [event("e1", "12,50"), event("e2", "n/a")], "run-1")
    result = check(load_records(con, EVENTS, [event("e1", "12.50")], "run-2"))
    assert (result.inserted, result.quarantined) == (1, 0)
    assert [q["source_id"] for q in rows(con, "raw_klaviyo.events_quarantine")] == ["e2"]


def test_a_failing_source_keeps_the_batches_already_committed(con):
    def records():
        yield from (profile(f"p{i}") for i in range(3))
        raise ConnectionError("the platform went away")

    with pytest.raises(ConnectionError):
        load_records(con, PROFILES, records(), "run-1", batch_size=2)
    assert len(rows(con, "raw_klaviyo.profiles")) == 2
    again = load_records(con, PROFILES, [profile(f"p{i}") for i in range(3)], "run-2")
    assert (again.unchanged, again.inserted) == (2, 1)


def test_an_empty_load_still_creates_the_tables(con):
    assert load_records(con, EVENTS, [], "run-1") == LoadResult()
    assert rows(con, "raw_klaviyo.events") == rows(con, "raw_klaviyo.events_quarantine") == []


def test_a_column_added_to_a_spec_is_added_to_the_table_and_filled(con):
    narrow = RecordSpec("raw_test", "things", Column("id", "id", "varchar", True), [], "merge")
    load_records(con, narrow, [{"id": "a", "size": "3"}], "run-1")
    wider = RecordSpec(
        "raw_test", "things", narrow.key, [Column("size", "size", "bigint")], "merge"
    )
    result = check(load_records(con, wider, [{"id": "b", "size": 4}], "run-2"))
    assert result.inserted == 1
    assert [(r["id"], r["size"]) for r in rows(con, "raw_test.things")] == [("a", 3), ("b", 4)]


@pytest.mark.parametrize("batch_size", [1, 100])
def test_an_older_copy_never_rolls_a_record_back(con, batch_size):
    newer = profile("p1", "2024-04-01T00:00:00+00:00", email="new@example.com")
    older = profile("p1", "2024-03-01T00:00:00+00:00", email="old@example.com")
    load_records(con, PROFILES, [newer], "run-1")
    # A slow snapshot delivers the older copy afterwards, alone and after the newer in a batch.
    result = check(load_records(con, PROFILES, [older], "run-2"))
    assert (result.updated, result.unchanged) == (0, 1)
    check(load_records(con, PROFILES, [newer, older], "run-3", batch_size=batch_size))
    [p1] = rows(con, "raw_klaviyo.profiles")
    assert (p1["email"], p1["_run_id"]) == ("new@example.com", "run-1")


@pytest.mark.parametrize(
    ("total", "quarantined"), [("9999999999999999.99", 1), ("-1e16", 1), ("1e300", 1), ("12.5", 0)]
)
def test_an_absurd_total_is_quarantined_not_left_to_break_the_build(con, total, quarantined):
    order = {
        "id": "gid://shopify/Order/1",
        "updatedAt": "2024-03-01T00:00:00Z",
        "totalPriceSet": {"shopMoney": {"amount": total, "currencyCode": "EUR"}},
    }
    result = check(load_records(con, RAW_TABLES["shopify", "orders"], [order], "run-1"))
    assert result.quarantined == quarantined
    if quarantined:
        [(reason,)] = con.execute("select reason from raw_shopify.orders_quarantine").fetchall()
        assert reason.startswith("out-of-range amount")
        return
    # What is loaded always fits the staging cast.
    (amount,) = con.execute(
        "select cast(total as decimal(18, 2)) from raw_shopify.orders"
    ).fetchone()
    assert amount == Decimal("12.50")
