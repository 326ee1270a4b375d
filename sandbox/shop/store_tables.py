"""Writing the simulated frames into the store's tables, and the id range of each table.

Bulk appends by column name, the lines of orders and abandoned checkouts, Klaviyo events and
the staff's test orders. Ids are offsets from per-table bases, so they look like the platforms'
own (13-digit Shopify ids) and never collide across tables.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from sandbox.shop.catalogue import METRICS

CUSTOMER_ID_BASE, DUPLICATE_ID_BASE, STAFF_CUSTOMER_ID = 6_100_000_000_000, 6_200_000_000_000, 1
ORDER_ID_BASE, CHECKOUT_ID_BASE = 5_500_000_000_000, 3_300_000_000_000


def timestamps(start: np.datetime64, t: np.ndarray) -> np.ndarray:
    return start + np.rint(np.asarray(t, dtype=float) * 86_400).astype("timedelta64[s]")


def append(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Bulk-insert a frame by column name (one vectorised scan, never row by row)."""
    con.register("frame_to_append", frame)
    try:
        con.execute(f"insert into {table} by name select * from frame_to_append")
    finally:
        con.unregister("frame_to_append")


def insert_lines(con, table, parent_column, parent_ids, lines, catalogue) -> None:
    product = catalogue.products.iloc[lines["product_row"].to_numpy()]
    # Lines of one parent are contiguous, so their position gives each a stable id.
    position = pd.Series(parent_ids).groupby(parent_ids).cumcount().to_numpy()
    rows = pd.DataFrame(
        {
            "line_id": parent_ids * 10 + position,
            parent_column: parent_ids,
            "product_id": product["product_id"].to_numpy(),
            "variant_id": product["variant_id"].to_numpy(),
            "title": product["title"].to_numpy(),
            "sku": product["sku"].to_numpy(),
            "quantity": lines["quantity"].to_numpy(),
            "unit_price": lines["unit_price"].to_numpy(),
        }
    )
    append(con, table, rows)


def insert_events(con, rng, spec, start, chunk, people, orders, order_key, events) -> None:
    events = events[events["t"] >= people["signup_t"].to_numpy()[events["person_index"]] - 2.0]
    events = events.sort_values(["t", "metric_index"], kind="stable", ignore_index=True)
    n = len(events)
    order_index = events.get("order_index", pd.Series(np.nan, index=events.index))
    has_order = order_index.notna().to_numpy()
    order_id = np.full(n, np.nan)
    order_id[has_order] = ORDER_ID_BASE + order_key[order_index[has_order].astype(np.int64)]
    # A share of events come through a third-party app that stamps local time (same instant).
    offset = np.where(rng.random(n) < 0.05, rng.choice([-300, -240, 60, 330], n), 0)
    malformed = rng.random(n) < spec.dirt * 0.05
    rows = pd.DataFrame(
        {
            "event_id": chunk * 10_000_000_000 + np.arange(n) + 1,
            "person_id": people["person_id"].to_numpy()[events["person_index"]],
            "metric_index": events["metric_index"].astype(np.int16),
            "occurred_at": timestamps(start, events["t"]),
            "tz_offset_minutes": offset.astype(np.int32),
            "value": events.get("value"),
            "campaign_id": events.get("campaign_id"),
            "product_id": events.get("product_id"),
            "order_id": order_id,
            "detail": np.where(malformed & has_order, "malformed_value", events.get("detail")),
        }
    )
    append(con, "events", rows)


def add_test_orders(con, rng, spec, start, catalogue) -> None:
    """Staff test orders, which Shopify flags with `test: true` and analytics must drop."""
    n = max(2, round(spec.customers * spec.dirt * 0.01))
    t = rng.uniform(0, spec.days, n)
    product = catalogue.products.iloc[rng.integers(0, len(catalogue.products), n)]
    key = 99 * 100_000_000 + np.arange(n) + 10**11
    con.execute(
        "insert into shopify_customers values (?, null, ?, 'Test', 'Staff', null, ?, false)",
        [
            STAFF_CUSTOMER_ID,
            f"qa+orders@{spec.shop.shop_domain}",
            start.astype(object) - timedelta(days=30),
        ],
    )
    rows = pd.DataFrame(
        {
            "order_id": ORDER_ID_BASE + key,
            "person_id": None,
            "customer_id": STAFF_CUSTOMER_ID,
            "email": f"qa+orders@{spec.shop.shop_domain}",
            "created_at": timestamps(start, t),
            "tz_offset_minutes": 0,
            "subtotal": product["price"].to_numpy(),
            "total_discounts": 0.0,
            "total_price": product["price"].to_numpy(),
            "discount_code": None,
            "refund_amount": 0.0,
            "refunded_at": pd.NaT,
            "test": True,
        }
    )
    append(con, "orders", rows)
    lines = pd.DataFrame(
        {
            "product_row": product.index.to_numpy(),
            "quantity": 1,
            "unit_price": product["price"].to_numpy(),
        }
    )
    insert_lines(con, "order_lines", "order_id", ORDER_ID_BASE + key, lines, catalogue)


def write_static(con, spec, start, catalogue, campaigns) -> None:
    """The tables that do not depend on people: products, campaigns, Klaviyo metrics."""
    product_rows = catalogue.products.assign(
        created_at=timestamps(start, catalogue.products["created_offset_days"])
    )
    product_rows["updated_at"] = product_rows["created_at"]
    append(con, "products", product_rows.drop(columns=["category_index", "created_offset_days"]))
    campaign_rows = campaigns.assign(
        sent_at=timestamps(start, campaigns["sent_offset_days"]),
        category=[spec.shop.category_names[i] for i in campaigns["category_index"]],
    )
    append(con, "campaigns", campaign_rows[["campaign_id", "name", "category", "sent_at"]])
    metric_ids = [
        f"{chr(65 + spec.seed % 26)}{i:02d}x{name[:2].upper()}"
        for i, (name, *_) in enumerate(METRICS)
    ]
    metric_rows = pd.DataFrame(
        [(i, metric_ids[i], *metric) for i, metric in enumerate(METRICS)],
        columns=["metric_index", "metric_id", "name", "integration_name", "integration_category"],
    )
    append(con, "metrics", metric_rows.assign(created=np.datetime64(spec.start, "s") - 60 * 86_400))
