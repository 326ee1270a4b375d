"""Row counts and column types read after a build: tables counted, views not, missing left out."""

import duckdb

from pipeline.lib.ingest.relation_stats import relation_stats


def test_tables_get_counts_and_columns_views_get_columns_only():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.customers (customer_id varchar, as_of_date date)")
    con.execute("insert into marts.customers values ('a', '2024-01-01'), ('b', '2024-01-02')")
    con.execute('create table marts."odd name" (x integer)')
    con.execute("create view marts.recent as select * from marts.customers")
    stats = relation_stats(
        con, [("marts", "customers"), ("marts", "odd name"), ("marts", "recent"), ("marts", "gone")]
    )
    assert stats[("marts", "customers")].row_count == 2
    assert stats[("marts", "customers")].columns == [
        ("customer_id", "VARCHAR"),
        ("as_of_date", "DATE"),
    ]
    assert stats[("marts", "odd name")].row_count == 0
    assert stats[("marts", "recent")].row_count is None
    assert stats[("marts", "recent")].columns[0] == ("customer_id", "VARCHAR")
    assert ("marts", "gone") not in stats


def test_nothing_asked_nothing_read():
    assert relation_stats(duckdb.connect(), []) == {}
