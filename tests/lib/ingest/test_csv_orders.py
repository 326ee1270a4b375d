"""The order-history CSV reader: clear errors for unusable files, raw records for usable ones."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.lib.ingest.csv_orders import CsvOrdersError, read_order_csv
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES

ORDERS = RAW_TABLES["files", "orders"]


def write(tmp_path, text: str, name: str = "orders.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_records_keep_every_column_under_normalised_names(tmp_path):
    path = write(
        tmp_path,
        " Customer ID ,ORDERED_AT,Total,e-mail,Gift Note\n"
        "c1,2024-01-05T10:00:00Z, 20.50 ,a@example.com,\n",
    )
    [record] = read_order_csv(path)
    assert record == {
        "customer_id": "c1",
        "ordered_at": "2024-01-05T10:00:00Z",
        "total": "20.50",
        "e_mail": "a@example.com",
        "gift_note": None,
        "order_id": record["order_id"],
    }


def test_an_order_id_column_is_the_key(tmp_path):
    path = write(tmp_path, "order_id,customer_id,ordered_at,total\n1001,c1,2024-01-05,3\n")
    assert [r["order_id"] for r in read_order_csv(path)] == ["1001"]


def test_derived_keys_are_stable_and_keep_identical_purchases_apart(tmp_path):
    rows = "c1,2024-01-05 10:00,3.00,Tea\n" * 2 + "c1,2024-01-05 10:00,3.00,Coffee\n"
    path = write(tmp_path, "customer_id,ordered_at,total,product\n" + rows)
    keys = [r["order_id"] for r in read_order_csv(path)]
    assert len(set(keys)) == 3
    assert [r["order_id"] for r in read_order_csv(path, chunk_rows=1)] == keys


def test_dates_are_normalised_to_utc_and_day_first_files_are_recognised(tmp_path):
    path = write(
        tmp_path,
        "customer_id;ordered_at;total\nc1;05/01/2024 10:00;1\nc2;13/01/2024 09:30;2\nc3;;3\n",
    )
    assert [r["ordered_at"] for r in read_order_csv(path)] == [
        "2024-01-05T10:00:00Z",
        "2024-01-13T09:30:00Z",
        None,
    ]


def test_an_explicit_date_format_is_used(tmp_path):
    path = write(tmp_path, "customer_id,ordered_at,total\nc1,01/02/2024,1\n")
    [record] = read_order_csv(path, date_format="%m/%d/%Y")
    assert record["ordered_at"] == "2024-01-02T00:00:00Z"


def test_offsets_are_converted(tmp_path):
    path = write(tmp_path, "customer_id,ordered_at,total\nc1,2024-02-05T10:00:00+01:00,1\n")
    [record] = read_order_csv(path)
    assert record["ordered_at"] == "2024-02-05T09:00:00Z"


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    path = write(tmp_path, "customer_id,ordered_at,total\nc1,2024-01-05,1\n", encoding="utf-8-sig")
    [record] = read_order_csv(path)
    assert record["customer_id"] == "c1"


def test_a_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(CsvOrdersError) as error:
        read_order_csv(path)
    assert str(error.value) == f"Order CSV not found: {path}"


def test_missing_columns_are_named_with_what_was_found(tmp_path):
    path = write(tmp_path, "Customer,Date,total\nc1,2024-01-05,3\n")
    with pytest.raises(CsvOrdersError) as error:
        read_order_csv(path)
    message = str(error.value)
    assert "missing the required column(s) customer_id, ordered_at" in message
    assert "found: Customer, Date, total" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("customer_id,ordered_at,total,Total\n", "total twice"),
        ("customer_id,ordered_at,total\nc1,yesterday,3\nc2,last week,4\n", "date format"),
        ("customer_id,ordered_at,total\nc1,01/02/2024,3\nc2,03/04/2024,4\n", "fit both"),
    ],
)
def test_unusable_files_are_refused_before_anything_is_read(tmp_path, text, message):
    with pytest.raises(CsvOrdersError, match=message):
        read_order_csv(write(tmp_path, text))


def test_a_wrong_date_format_names_the_format_and_an_offending_value(tmp_path):
    path = write(tmp_path, "customer_id,ordered_at,total\nc1,2024-01-05,3\nc2,2024-01-06,4\n")
    with pytest.raises(CsvOrdersError) as error:
        read_order_csv(path, date_format="%d/%m/%Y")
    assert "'%d/%m/%Y'" in str(error.value)
    assert "'2024-01-05' on line 2" in str(error.value)


def test_error_messages_never_show_an_email(tmp_path):
    path = write(tmp_path, "customer_id,total,ordered_at\nc1,3,ada@example.com\n")
    with pytest.raises(CsvOrdersError) as error:
        read_order_csv(path)
    assert "example.com" not in str(error.value)
    assert "(an email address) on line 2" in str(error.value)


def test_bad_rows_pass_through_and_are_quarantined_with_their_reason(tmp_path):
    path = write(
        tmp_path,
        "customer_id,ordered_at,total,quantity\n"
        "c1,2024-01-05T10:00:00Z,20.50,1\n"
        "c2,2024-01-06T10:00:00Z,not-a-number,1\n"
        "c3,2024-02-30T10:00:00Z,5,1\n"
        ",2024-01-07T10:00:00Z,5,1\n"
        "c4,2024-01-08T10:00:00Z,5,\n",
    )
    con = duckdb.connect()
    first = load_records(con, ORDERS, read_order_csv(path), "run-1")
    assert (first.fetched, first.loaded, first.quarantined) == (5, 2, 3)
    assert sorted(
        r for (r,) in con.execute("select reason from raw_files.orders_quarantine").fetchall()
    ) == [
        "missing customer_id",
        "non-numeric total",
        "unparsable timestamp ordered_at",
    ]
    again = load_records(con, ORDERS, read_order_csv(path), "run-2")
    assert (again.inserted, again.updated, again.unchanged, again.quarantined) == (0, 0, 2, 3)
    assert con.execute("select count(*) from raw_files.orders_quarantine").fetchone() == (3,)


def test_large_files_stream_in_chunks(tmp_path):
    body = "".join(f"c{i % 50},2024-01-{i % 28 + 1:02d} 10:00,{i}.5\n" for i in range(2_500))
    path = write(tmp_path, "customer_id,ordered_at,total\n" + body)
    records = read_order_csv(path, chunk_rows=1_000)
    assert sum(1 for _ in records) == 2_500
