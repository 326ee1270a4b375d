"""What each top-level Shopify connection reads: its view, id, sort keys and search fields.

The `sortKey` enum values map to SQL expressions over the view's columns; the search fields
are the `query:` terms the emulator understands for that connection (others are ignored with
a warning, as Shopify ignores terms it does not know).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sandbox.shopify.search import SearchField

ValueKind = Literal["timestamp", "int", "decimal", "text"]


@dataclass(frozen=True)
class SortKey:
    """A `sortKey` enum value: the SQL expression ordered on and the type of its values."""

    sql: str
    kind: ValueKind


@dataclass(frozen=True)
class Resource:
    """A top-level connection: its rows, primary key, sort keys and search fields."""

    source: str
    id_column: str
    sort_keys: Mapping[str, SortKey]
    search: Mapping[str, SearchField]


def _ts(column: str) -> SearchField:
    # Shopify timestamps have second precision; compare at the precision clients see.
    return SearchField(f"date_trunc('second', {column})", "timestamp")


def _common_search(id_column: str) -> dict[str, SearchField]:
    return {
        "created_at": _ts("created_at"),
        "updated_at": _ts("updated_at"),
        "id": SearchField(id_column, "id"),
    }


def _common_sorts(id_column: str) -> dict[str, SortKey]:
    by_id = SortKey(id_column, "int")
    return {
        "ID": by_id,
        "RELEVANCE": by_id,
        "CREATED_AT": SortKey("created_at", "timestamp"),
        "UPDATED_AT": SortKey("updated_at", "timestamp"),
    }


# One row per product; v_products has one row per variant, the first variant carries the
# product-level text fields.
PRODUCTS_SQL = """
    SELECT product_id,
           arg_min(title, variant_id) AS title,
           arg_min(product_type, variant_id) AS product_type,
           arg_min(vendor, variant_id) AS vendor,
           min(created_at) AS created_at,
           max(updated_at) AS updated_at
    FROM v_products GROUP BY product_id
"""

CUSTOMERS = Resource(
    "v_shopify_customers",
    "customer_id",
    _common_sorts("customer_id")
    | {
        "NAME": SortKey("lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))", "text")
    },
    _common_search("customer_id"),
)
ORDERS = Resource(
    "v_orders",
    "order_id",
    _common_sorts("order_id")
    | {
        "PROCESSED_AT": SortKey("processed_at", "timestamp"),
        "ORDER_NUMBER": SortKey("coalesce(try_cast(ltrim(name, '#') AS BIGINT), 0)", "int"),
        "TOTAL_PRICE": SortKey("total_price", "decimal"),
    },
    _common_search("order_id") | {"processed_at": _ts("processed_at")},
)
PRODUCTS = Resource(
    f"({PRODUCTS_SQL})",
    "product_id",
    _common_sorts("product_id")
    | {
        "TITLE": SortKey("lower(title)", "text"),
        "PRODUCT_TYPE": SortKey("lower(product_type)", "text"),
        "VENDOR": SortKey("lower(vendor)", "text"),
    },
    _common_search("product_id"),
)
ABANDONED_CHECKOUTS = Resource(
    "v_abandoned_checkouts",
    "checkout_id",
    {
        "ID": SortKey("checkout_id", "int"),
        "CHECKOUT_ID": SortKey("checkout_id", "int"),
        "RELEVANCE": SortKey("checkout_id", "int"),
        "CREATED_AT": SortKey("created_at", "timestamp"),
        "TOTAL_PRICE": SortKey("total_price", "decimal"),
    },
    _common_search("checkout_id"),
)
