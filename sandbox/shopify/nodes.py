"""Turns view rows into Shopify-shaped GraphQL objects (GIDs, UTC timestamps, money sets).

Each builder takes the rows fetched together and returns plain dicts whose keys are the
GraphQL field names, so graphql-core's default resolver serves scalars directly. Nodes built
from one query share a `Batch`: the first time a nested relation (an order's customer, a line
item's product, ...) is resolved on any of them, it is loaded for all of them in one query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.shopify.data import fetch_by_ids, fetch_children
from sandbox.shopify.resources import PRODUCTS_SQL

Node = dict[str, Any]


class Batch:
    """Rows fetched together, so that a relation is loaded once for all of them."""

    def __init__(self, ctx: Any, rows: list[dict[str, Any]]) -> None:
        self.ctx = ctx
        self.rows = rows
        self._loaded: dict[str, Any] = {}

    def load(self, relation: str, fetch: Callable[[list[dict[str, Any]]], Any]) -> Any:
        """The relation for every row in the batch, fetched on first use."""
        if relation not in self._loaded:
            self._loaded[relation] = fetch(self.rows)
        return self._loaded[relation]


def gid(kind: str, number: int) -> str:
    """Shopify's global id, e.g. gid://shopify/Customer/42."""
    return f"gid://shopify/{kind}/{number}"


def utc(moment: datetime | None) -> str | None:
    """A naive-UTC timestamp in Shopify's DateTime format (second precision, Z suffix)."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def local(moment: datetime, offset_minutes: int) -> str:
    """The same instant rendered at a UTC offset, as Shopify renders an order's processedAt."""
    if not offset_minutes:
        return utc(moment) or ""
    shifted = moment + timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{shifted.strftime('%Y-%m-%dT%H:%M:%S')}{sign}{hours:02d}:{minutes:02d}"


def decimal_string(value: Decimal | float | int) -> str:
    """Shopify serialises Decimal like Ruby's BigDecimal: "12.5", "10.0", "0.0"."""
    text = format(Decimal(value).normalize(), "f")
    return text if "." in text else f"{text}.0"


def money(amount: Decimal | None, currency: str) -> Node:
    """A MoneyV2 (a missing amount is zero)."""
    return {"amount": decimal_string(amount or 0), "currencyCode": currency}


def money_bag(amount: Decimal | None, currency: str) -> Node:
    """A MoneyBag; the sandbox shop sells in one currency, so both sides are equal."""
    value = money(amount, currency)
    return {"shopMoney": value, "presentmentMoney": value}


def _nodes(ctx: Any, rows: list[dict[str, Any]], build: Callable[..., Node]) -> list[Node]:
    batch = Batch(ctx, rows)
    return [build(row, ctx) | {"_row": row, "_batch": batch} for row in rows]


def _customer(row: dict[str, Any], ctx: Any) -> Node:
    email, state = row["email"], row["marketing_state"]
    name = " ".join(p for p in (row["first_name"], row["last_name"]) if p)
    consent = {
        "marketingState": state,
        "marketingOptInLevel": None if state == "NOT_SUBSCRIBED" else "SINGLE_OPT_IN",
        "consentUpdatedAt": utc(row["consent_updated_at"]),
    }
    return {
        "id": gid("Customer", row["customer_id"]),
        "legacyResourceId": str(row["customer_id"]),
        "email": email,
        "firstName": row["first_name"],
        "lastName": row["last_name"],
        "displayName": name or email or "",
        "phone": row["phone"],
        "createdAt": utc(row["created_at"]),
        "updatedAt": utc(row["updated_at"]),
        "numberOfOrders": str(row["number_of_orders"]),
        "amountSpent": money(row["amount_spent"], ctx.shop.currency_code),
        "tags": list(row["tags"] or []),
        "emailMarketingConsent": consent if email is not None else None,
        "defaultEmailAddress": (
            None if email is None else {"emailAddress": email, "marketingState": state}
        ),
    }


def _order(row: dict[str, Any], ctx: Any) -> Node:
    currency = row["currency"]
    return {
        "id": gid("Order", row["order_id"]),
        "legacyResourceId": str(row["order_id"]),
        "name": row["name"],
        "email": row["email"],
        "createdAt": utc(row["created_at"]),
        "updatedAt": utc(row["updated_at"]),
        "processedAt": local(row["processed_at"], row["tz_offset_minutes"] or 0),
        "cancelledAt": utc(row["cancelled_at"]),
        "test": bool(row["test"]),
        "currencyCode": currency,
        "presentmentCurrencyCode": currency,
        "displayFinancialStatus": row["financial_status"],
        "discountCodes": list(row["discount_codes"] or []),
        "subtotalPriceSet": money_bag(row["subtotal"], currency),
        "totalPriceSet": money_bag(row["total_price"], currency),
        "totalDiscountsSet": money_bag(row["total_discounts"], currency),
        "totalRefundedSet": money_bag(row["total_refunded"], currency),
    }


def _line(kind: str, currency: str) -> Callable[[dict[str, Any], Any], Node]:
    def build(row: dict[str, Any], _ctx: Any) -> Node:
        return {
            "id": gid(kind, row["line_id"]),
            "title": row["title"],
            "name": row["title"],
            "sku": row["sku"],
            "quantity": row["quantity"],
            "originalUnitPriceSet": money_bag(row["unit_price"], currency),
        }

    return build


def _product(row: dict[str, Any], _ctx: Any) -> Node:
    return {
        "id": gid("Product", row["product_id"]),
        "legacyResourceId": str(row["product_id"]),
        "title": row["title"],
        "productType": row["product_type"],
        "vendor": row["vendor"],
        "createdAt": utc(row["created_at"]),
        "updatedAt": utc(row["updated_at"]),
    }


def _variant(row: dict[str, Any], _ctx: Any) -> Node:
    return {
        "id": gid("ProductVariant", row["variant_id"]),
        "legacyResourceId": str(row["variant_id"]),
        "sku": row["sku"],
        "price": decimal_string(row["price"]),
    }


def _checkout(row: dict[str, Any], _ctx: Any) -> Node:
    return {
        "id": gid("AbandonedCheckout", row["checkout_id"]),
        "createdAt": utc(row["created_at"]),
        "updatedAt": utc(row["updated_at"]),
        "completedAt": None,
        "totalPriceSet": money_bag(row["total_price"], row["currency"]),
    }


def customers(ctx: Any, rows: list[dict[str, Any]]) -> list[Node]:
    return _nodes(ctx, rows, _customer)


def orders(ctx: Any, rows: list[dict[str, Any]]) -> list[Node]:
    return _nodes(ctx, rows, _order)


def products(ctx: Any, rows: list[dict[str, Any]]) -> list[Node]:
    return _nodes(ctx, rows, _product)


def variants(ctx: Any, rows: list[dict[str, Any]]) -> list[Node]:
    return _nodes(ctx, rows, _variant)


def checkouts(ctx: Any, rows: list[dict[str, Any]]) -> list[Node]:
    return _nodes(ctx, rows, _checkout)


def _by_id(nodes: list[Node], column: str) -> dict[int, Node]:
    return {n["_row"][column]: n for n in nodes}


def related_customer(node: Node) -> Node | None:
    """The customer of an order or checkout, loaded for its whole batch."""
    batch: Batch = node["_batch"]

    def fetch(rows: list[dict[str, Any]]) -> dict[int, Node]:
        found = fetch_by_ids(
            batch.ctx.cursor,
            "v_shopify_customers",
            "customer_id",
            (r["customer_id"] for r in rows),
        )
        return _by_id(customers(batch.ctx, list(found.values())), "customer_id")

    return batch.load("customer", fetch).get(node["_row"]["customer_id"])


def related_product(node: Node) -> Node | None:
    """The product of a line item or variant, loaded for its whole batch."""
    batch: Batch = node["_batch"]

    def fetch(rows: list[dict[str, Any]]) -> dict[int, Node]:
        found = fetch_by_ids(
            batch.ctx.cursor, f"({PRODUCTS_SQL})", "product_id", (r["product_id"] for r in rows)
        )
        return _by_id(products(batch.ctx, list(found.values())), "product_id")

    return batch.load("product", fetch).get(node["_row"]["product_id"])


def related_variant(node: Node) -> Node | None:
    """The variant of a line item, loaded for its whole batch."""
    batch: Batch = node["_batch"]

    def fetch(rows: list[dict[str, Any]]) -> dict[int, Node]:
        found = fetch_by_ids(
            batch.ctx.cursor, "v_products", "variant_id", (r["variant_id"] for r in rows)
        )
        return _by_id(variants(batch.ctx, list(found.values())), "variant_id")

    return batch.load("variant", fetch).get(node["_row"]["variant_id"])


# relation name -> (view, parent column, child id column, builder factory from parent row)
_CHILDREN: dict[str, tuple[str, str, str, Callable[[dict[str, Any]], Callable[..., Node]]]] = {
    "orderLines": (
        "v_order_lines",
        "order_id",
        "line_id",
        lambda parent: _line("LineItem", parent["currency"]),
    ),
    "checkoutLines": (
        "v_checkout_lines",
        "checkout_id",
        "line_id",
        lambda parent: _line("AbandonedCheckoutLineItem", parent["currency"]),
    ),
    "variants": ("v_products", "product_id", "variant_id", lambda _parent: _variant),
}


def children(node: Node, relation: str) -> list[Node]:
    """A parent's child nodes (line items, variants), loaded for the parent's whole batch."""
    batch: Batch = node["_batch"]
    view, parent_column, child_id, factory = _CHILDREN[relation]

    def fetch(rows: list[dict[str, Any]]) -> dict[int, list[Node]]:
        grouped = fetch_children(
            batch.ctx.cursor, view, parent_column, child_id, (r[parent_column] for r in rows)
        )
        parents = {r[parent_column]: r for r in rows}
        every = [row for group in grouped.values() for row in group]
        # All children of the batch share one batch, so their own relations batch too.
        shared = Batch(batch.ctx, every)
        return {
            pid: [
                factory(parents[pid])(row, batch.ctx) | {"_row": row, "_batch": shared}
                for row in group
            ]
            for pid, group in grouped.items()
        }

    return batch.load(relation, fetch).get(node["_row"][parent_column], [])
