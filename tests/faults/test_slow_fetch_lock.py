"""A slow platform does not lock the warehouse: ingest pages through the API into a spool
without holding the warehouse open, and takes the write lock only to load. While a fetch is in
progress another process (another writer, an analyst's session) can open and write the file;
the load that follows still lands every fetched record, exactly as fetched."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from pipeline.defs.ingest.shopify import shopify_assets
from pipeline.defs.resources import ShopifyResource, WarehouseResource
from pipeline.lib.clients.shopify import ShopifyClient
from pipeline.lib.ingest.spool import spooled

ANOTHER_WRITER = """
import sys, duckdb
with duckdb.connect(sys.argv[1]) as con:
    con.execute("create table if not exists notes (note varchar)")
    con.execute("insert into notes values ('written while ingest was fetching')")
"""


def order(number: int) -> dict:
    return {
        "id": f"gid://shopify/Order/{number}",
        "updatedAt": "2024-03-01T10:00:00Z",
        "totalPriceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "EUR"}},
    }


def test_another_process_writes_the_warehouse_while_a_slow_fetch_pages(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    writers: list[subprocess.CompletedProcess] = []

    def slow_pages(self, entity, start, end, *, bulk=False):
        yield order(1)
        # Between two pages of a slow platform, someone else writes to the warehouse.
        writers.append(
            subprocess.run(
                [sys.executable, "-c", ANOTHER_WRITER, str(path)],
                capture_output=True,
                text=True,
                timeout=60,
            )
        )
        yield order(2)

    monkeypatch.setattr(ShopifyClient, "fetch_updated_between", slow_pages)
    [orders] = [a for a in shopify_assets if a.key == dg.AssetKey(["shopify", "orders"])]
    result = dg.materialize(
        [orders],
        partition_key="2024-03-01",
        resources={
            "shopify": ShopifyResource(api_url="http://127.0.0.1:9/graphql.json", access_token="k"),
            "warehouse": WarehouseResource(path=str(path)),
        },
    )
    assert result.success
    [writer] = writers
    assert writer.returncode == 0, writer.stderr[-500:]
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from notes").fetchone() == (1,)
        assert con.execute("select id from raw_shopify.orders order by id").fetchall() == [
            ("gid://shopify/Order/1",),
            ("gid://shopify/Order/2",),
        ]


def test_a_spool_gives_back_every_record_as_fetched_as_often_as_read(tmp_path):
    records = [order(1), {"id": "x", "total": Decimal("1.5")}, order(3)]
    with spooled(iter(records), tmp_path) as fetched:
        assert len(fetched) == 3
        assert list(fetched) == records and list(fetched) == records


def test_a_fetch_that_fails_never_reaches_the_load(tmp_path):
    def failing():
        yield order(1)
        raise ConnectionError("the platform went away")

    entered = []
    with pytest.raises(ConnectionError), spooled(failing(), tmp_path):
        entered.append(True)
    assert entered == []
