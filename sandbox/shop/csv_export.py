"""The shop's order history as an order CSV of the kind a shop exports and Foresight imports.

Grain: one row per order placed before the clock `now` (staff test orders left out), in the
columns the product's CSV import reads: order_id, customer_id, email, ordered_at (ISO 8601,
UTC), total, currency, and, when the shape's export carries them, quantity, product and category
of the order's main line (its largest by value). `total` is the order's total net of refunds made
before `now`, which is what the shop kept. Rows are ordered by time, so the file is the same
bytes for the same store and clock.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.shop.store import StoreView

_ORDERS_SQL = """
with main_line as (
    select
        l.order_id,
        first(p.title order by l.quantity * l.unit_price desc, l.line_id) as product,
        first(p.product_type order by l.quantity * l.unit_price desc, l.line_id) as category,
        sum(l.quantity) as quantity
    from store.order_lines as l
    inner join store.products as p on l.product_id = p.product_id
    group by l.order_id
)
select
    o.order_id::varchar as order_id,
    o.customer_id::varchar as customer_id,
    o.email,
    strftime(o.created_at, '%Y-%m-%dT%H:%M:%SZ') as ordered_at,
    (o.total_price - case when o.refunded_at < $now then o.refund_amount else 0 end)::decimal(12, 2)
        as total,
    $currency as currency{category_columns}
from store.orders as o
left join main_line as m on o.order_id = m.order_id
where not o.test and o.created_at < $now
order by o.created_at, o.order_id
"""
_CATEGORY_COLUMNS = ",\n    m.quantity, m.product, m.category"


def write_order_csv(view: StoreView, out: Path | str) -> int:
    """Write the order CSV for the store at `view.now`; returns the number of orders written."""
    shape = view.spec.shop
    sql = _ORDERS_SQL.format(category_columns=_CATEGORY_COLUMNS if shape.csv_has_categories else "")
    params = {"now": view.now, "currency": shape.currency}
    with view.cursor() as cur:
        cur.execute(f"copy ({sql}) to '{out}' (header, delimiter ',')", params)
        (rows,) = cur.execute(f"select count(*) from read_csv('{out}', header = true)").fetchone()
    return rows
