"""The dbt project end to end on the small sandbox store: ingested by the project's own assets,
then `dbt build` (models, data tests and unit tests), checked against the simulator's truth.

Built twice: first as a shop without a CSV import (no `raw_files.orders` at all), then after an
order-history CSV import whose emails are case variants of platform customers' addresses. The
unit tests check model logic on fixtures, not on the data: they run in the first build only.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from pipeline.lib.ingest.csv_orders import read_order_csv
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.warehouse import connect
from sandbox.shop.store import StoreView
from tests.conftest import SMALL_STORE
from tests.dbt.dbt_helpers import NO_UNIT_TESTS, dbt, dbt_build, unexpected_statuses

pytestmark = pytest.mark.integration

# The sandbox's default clock: the day after the ingested history.
NOW = datetime.combine(SMALL_STORE.end, datetime.min.time())
CSV_PEOPLE = 3  # platform people who also appear in the imported order history
AS_OF = date(2024, 5, 1)  # a day inside the history, for the point-in-time rebuild


def _import_csv(warehouse: Path, tmp: Path, store: StoreView) -> list[tuple[int, str]]:
    """Order history for a few people with a valid email, typed in upper case, under the
    legacy system's own customer ids; returns (person_id, legacy customer id)."""
    with store.cursor() as cur:
        people = cur.execute(
            "select person_id, email from store.people"
            " where email_state = 'ok' and signup_at < ? order by person_id limit ?",
            [NOW, CSV_PEOPLE],
        ).fetchall()
    rows = ["customer_id,ordered_at,total,email,product,category"]
    for person_id, email in people:
        rows.append(
            f"legacy-{person_id},2023-06-0{person_id % 9 + 1},19.90, {email.upper()} ,Kit,gifts"
        )
    path = tmp / "history.csv"
    path.write_text("\n".join(rows) + "\n")
    with connect(warehouse) as con:
        load_records(con, RAW_TABLES[("files", "orders")], read_order_csv(path), "test-import")
    return [(person_id, f"legacy-{person_id}") for person_id, _ in people]


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_store_path, first_build):
    root = tmp_path_factory.mktemp("dbt")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(first_build[0], warehouse)
    first = first_build[1]
    with connect(warehouse, read_only=True) as con:
        without_files = con.execute(
            "select (select count(*) from staging.stg_files__orders),"
            " (select count(*) from information_schema.tables where table_schema = 'raw_files')"
        ).fetchone()
    store = StoreView(small_store_path, NOW)
    legacy = _import_csv(warehouse, root, store)
    second = dbt_build(warehouse, root / "second", *NO_UNIT_TESTS)
    # The customer view as of a day inside the history, rebuilt alone (as a Dagster subset
    # run would) in a copy: the pinned date must reach the mart, and later orders not count.
    pinned_warehouse = root / "pinned.duckdb"
    shutil.copy(warehouse, pinned_warehouse)
    pinned = dbt_build(
        pinned_warehouse,
        root / "pinned",
        *("--select", "customers", *NO_UNIT_TESTS, "--vars", f"as_of_date: {AS_OF}"),
    )
    # The store view knows the sandbox's Klaviyo profile id of each person (`profile_id`).
    con = store.cursor()
    con.execute(f"attach '{warehouse}' as wh (read_only)")
    con.execute(f"attach '{pinned_warehouse}' as pit (read_only)")
    con.execute(
        """
        create table resolved as
        select
            i.customer_id,
            i.source_system,
            i.source_id,
            coalesce(s.person_id, p.person_id, try_cast(split_part(i.source_id, '-', 2) as bigint))
                as person_id
        from wh.intermediate.int_customer_identities as i
        left join store.shopify_customers as s
            on i.source_system = 'shopify' and i.source_id = cast(s.customer_id as varchar)
        left join store.people as p
            on i.source_system = 'klaviyo' and i.source_id = profile_id(p.person_id)
        """
    )
    yield {
        "warehouse": warehouse,
        "first": first,
        "second": second,
        "pinned": pinned,
        "without_files": without_files,
        "legacy": legacy,
        "con": con,
    }
    con.close()
    store.close()


def _one(con, sql: str, *params):
    return con.execute(sql, list(params)).fetchone()


def test_builds_without_a_csv_import_then_with_one(built):
    assert built["without_files"] == (0, 0)  # no raw_files table, an empty staging model
    for run in ("first", "second"):
        kinds = [result["unique_id"].split(".")[0] for result in built[run]]
        assert kinds.count("model") >= 15 and kinds.count("test") >= 50
        assert unexpected_statuses(built[run]) == []
    assert sum(r["unique_id"].startswith("unit_test.") for r in built["first"]) >= 4


def test_every_identity_is_a_known_person_and_no_customer_is_two_people(built):
    con = built["con"]
    assert _one(con, "select count(*) from resolved where person_id is null") == (0,)
    mixed = _one(
        con,
        "select count(*) from (select customer_id from resolved group by 1"
        " having count(distinct person_id) > 1)",
    )
    assert mixed == (0,)


def test_email_variants_and_duplicate_accounts_resolve_to_one_customer(built):
    con = built["con"]
    duplicates = _one(
        con,
        """
        select count(*), count(*) filter (where dup.customer_id = main.customer_id)
        from resolved as dup
        inner join store.shopify_customers as s
            on dup.source_id = cast(s.customer_id as varchar) and s.is_duplicate
        inner join resolved as main
            on main.person_id = dup.person_id and main.source_system = 'klaviyo'
        """,
    )
    assert duplicates[0] > 0, "the small store should have duplicate Shopify accounts"
    assert duplicates[0] == duplicates[1]
    split = _one(
        con,
        """
        select count(*) from (
            select r.person_id from resolved as r
            inner join store.people as p on r.person_id = p.person_id
            where p.email_state = 'ok'
            group by 1 having count(distinct r.customer_id) > 1
        )
        """,
    )
    assert split == (0,)


def test_customers_are_the_distinct_people(built):
    con = built["con"]
    people, customers, marts_customers = _one(
        con,
        "select count(distinct person_id), count(distinct customer_id),"
        " (select count(*) from wh.marts.customers) from resolved",
    )
    assert customers == marts_customers
    # A person can only stay split when nothing links their identities: no usable email, no
    # phone and no order yet (the Placed Order event is what links accounts without email).
    unlinkable = con.execute(
        """
        select r.person_id, any_value(p.email_state), any_value(p.phone)
        from resolved as r
        inner join store.people as p on r.person_id = p.person_id
        group by 1 having count(distinct r.customer_id) > 1
        """
    ).fetchall()
    for person_id, email_state, phone in unlinkable:
        assert email_state != "ok" and phone is None, person_id
        orders = _one(
            con,
            "select count(*) from wh.raw_shopify.orders where customer_id like ?",
            f"%/{6_100_000_000_000 + person_id}",
        )
        assert orders == (0,), person_id
    assert customers == people + len(unlinkable)


def test_csv_customers_join_their_platform_person(built):
    con = built["con"]
    for person_id, legacy_id in built["legacy"]:
        ids = con.execute(
            "select distinct customer_id from resolved where person_id = ?", [person_id]
        ).fetchall()
        assert len(ids) == 1, legacy_id
        order = _one(
            con,
            "select customer_id from wh.marts.orders where source_system = 'files'"
            " and source_order_id in (select files_order_id from wh.staging.stg_files__orders"
            " where files_customer_id = ?)",
            legacy_id,
        )
        assert order == ids[0]


def test_test_orders_and_staff_never_reach_the_marts(built):
    con = built["con"]
    (raw_test_orders,) = _one(con, "select count(*) from wh.raw_shopify.orders where test")
    assert raw_test_orders > 0, "the store should have staff test orders"
    leaked = _one(
        con,
        """
        select count(*) from wh.marts.orders as o
        inner join wh.raw_shopify.orders as r
            on o.source_order_id = regexp_extract(r.id, '[0-9]+$') and r.test
        """,
    )
    assert leaked == (0,)
    (staff,) = _one(
        con,
        "select count(*) from wh.raw_shopify.customers"
        " where list_contains(cast(record -> 'tags' as varchar[]), 'staff')",
    )
    assert staff > 0
    assert _one(con, "select count(*) from wh.marts.customers where email like 'qa+%'") == (0,)


def test_customer_marts_are_consistent(built):
    con = built["con"]
    (bad,) = _one(
        con,
        """
        select count(*) from wh.marts.customers
        where (lifetime_orders = 0) <> (lifecycle_stage = 'prospect')
            or (can_receive_email_marketing and (email is null or email_consent <> 'subscribed'))
            or as_of_date <> ?
        """,
        NOW,
    )
    assert bad == 0
    # Orders and net revenue (refunds known at the clock) are the store's, to the cent.
    truth = _one(
        con,
        """
        select count(*), sum(total_price - case when refunded_at < ? then refund_amount else 0 end)
        from store.orders where not test and created_at < ?
        """,
        NOW,
        NOW,
    )
    marts = _one(
        con,
        "select count(*), sum(net_amount) from wh.marts.orders where source_system = 'shopify'",
    )
    assert truth[0] > 0 and marts == truth


def test_customers_as_of_a_pinned_date_see_only_earlier_orders(built):
    con = built["con"]
    assert unexpected_statuses(built["pinned"]) == []
    as_of, customers = _one(
        con, "select any_value(as_of_date), count(*) from pit.marts.customers group by all"
    )
    assert as_of == AS_OF
    mismatched = _one(
        con,
        """
        with expected as (
            select customer_id, count(*) as orders, max(ordered_at) as last_order_at
            from pit.marts.orders
            where ordered_at < ? and not is_cancelled
            group by customer_id
        )
        select count(*) from pit.marts.customers as c
        left join expected as e on c.customer_id = e.customer_id
        where c.lifetime_orders <> coalesce(e.orders, 0)
            or c.last_order_at is distinct from e.last_order_at
            or (c.lifecycle_stage = 'prospect') <> (e.orders is null)
        """,
        AS_OF,
    )
    assert mismatched == (0,)
    # The same people, with their current contact and consent fields; only history moves.
    assert customers == _one(con, "select count(*) from wh.marts.customers")[0]
    changed = _one(
        con,
        """
        select count(*) from pit.marts.customers as p
        inner join wh.marts.customers as w using (customer_id)
        where p.email is distinct from w.email or p.email_consent <> w.email_consent
        """,
    )
    assert changed == (0,)


def test_a_null_in_a_required_column_fails_naming_the_column(built, tmp_path):
    """A model's required columns are checked by one test: a null in any of them fails it, with
    one row per column holding nulls."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built["warehouse"], warehouse)
    with connect(warehouse) as con:
        con.execute(
            "update marts.customers set email_consent = null, identity_count = null "
            "where customer_id = (select min(customer_id) from marts.customers)"
        )
    results = dbt(
        warehouse,
        tmp_path / "dbt",
        "test",
        *("--select", "customers_columns_not_null", "--store-failures"),
        expect_success=False,
    )
    assert [(r["unique_id"].split(".")[2], r["status"], r["failures"]) for r in results] == [
        ("customers_columns_not_null", "fail", 2)
    ]
    with connect(warehouse, read_only=True) as con:
        (schema,) = con.execute(
            "select table_schema from information_schema.tables "
            "where table_name = 'customers_columns_not_null'"
        ).fetchone()
        failing = con.execute(
            f"select column_name, null_rows from {schema}.customers_columns_not_null order by 1"
        ).fetchall()
    assert failing == [("email_consent", 1), ("identity_count", 1)]
