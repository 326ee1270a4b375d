"""Order-history CSV import, for shops without API access or with history in another system.

Grain: one raw row per order in `raw_files.orders` (the file's `order_id`, or a stable key
derived from the row when the file has none). Re-importing the same file changes nothing.
"""

from pathlib import Path

import dagster as dg

from pipeline.defs.ingest.common import ingest_asset_args, ingest_result
from pipeline.defs.resources import WarehouseResource
from pipeline.lib.ingest.csv_orders import read_order_csv
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES

KEY = ["files", "orders"]


class OrderCsvConfig(dg.Config):
    """Which export to import and how to read it."""

    path: str
    """The CSV file: columns customer_id, ordered_at, total; optional order_id, email,
    currency, quantity, product, category."""
    date_format: str | None = None
    """A strftime format for `ordered_at` when it is not ISO 8601 (e.g. "%d/%m/%Y %H:%M")."""
    max_quarantined_share: float = 0.01


@dg.asset(
    **ingest_asset_args(
        KEY,
        "Orders imported from an order-history CSV export (one row per order).",
        "csv",
        partitioned=False,
    )
)
def files_orders(
    context: dg.AssetExecutionContext, config: OrderCsvConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    records = read_order_csv(Path(config.path), date_format=config.date_format)
    with warehouse.connect() as con:
        loaded = load_records(con, RAW_TABLES[tuple(KEY)], records, context.run.run_id)
    return ingest_result(KEY, loaded, None, config.max_quarantined_share)
