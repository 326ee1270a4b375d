"""Resolvers for the Shopify schema: connections, single lookups and bulk-operation fields.

Scalars are served by graphql-core's default resolver from the node dicts built in
`shopify_nodes`; only fields that read the store (connections, relations) or the bulk
operation registry have resolvers here. Everything a resolver needs arrives in `ExecContext`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, GraphQLSchema

from sandbox.shopify import nodes
from sandbox.shopify.data import (
    CursorError,
    Page,
    Window,
    encode_cursor,
    fetch_by_ids,
    fetch_page,
    paginate_list,
    stream_rows,
)
from sandbox.shopify.resources import (
    ABANDONED_CHECKOUTS,
    CUSTOMERS,
    ORDERS,
    PRODUCTS,
    PRODUCTS_SQL,
    Resource,
    ValueKind,
)
from sandbox.shopify.schema import shopify_schema
from sandbox.shopify.search import parse_search

MAX_PAGE_SIZE = 250
ID_COLUMNS = {"orderLines": "line_id", "checkoutLines": "line_id", "variants": "variant_id"}


@dataclass(frozen=True)
class ShopInfo:
    """The `shop` object; the sandbox shop's timezone is UTC, as its timestamps are."""

    name: str = "Foresight Coffee & Tea"
    myshopify_domain: str = "foresight-coffee-tea.myshopify.com"
    iana_timezone: str = "Etc/UTC"
    currency_code: str = "USD"


@dataclass
class BulkCursor:
    """A bulk run's stream over its top-level connection, one chunk per execution.

    `stream` is a cursor of its own: the streamed result must stay open while nested
    lookups run on the execution's cursor.
    """

    chunk: int
    stream: Any
    rows: Iterator[list[dict[str, Any]]] | None = None
    more: bool = True

    def next_chunk(self, resource: Resource, sort: str, reverse: bool, search: Any) -> list:
        if self.rows is None:
            self.rows = stream_rows(self.stream, resource, sort, reverse, search, self.chunk)
        rows = next(self.rows, [])
        self.more = len(rows) == self.chunk
        return rows


@dataclass
class ExecContext:
    """Per-execution state: the DuckDB cursor, shop, bulk registry and collected warnings."""

    cursor: Any
    shop: ShopInfo
    bulk_ops: Any = None
    bulk: BulkCursor | None = None
    search: list[dict[str, Any]] = field(default_factory=list)


def connection(items: list[Any], cursors: list[str], has_next: bool, has_prev: bool) -> dict:
    """A Relay connection object with edges, nodes and pageInfo."""
    return {
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, items, strict=True)],
        "nodes": items,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _bad_request(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_REQUEST"})


def _window(info: GraphQLResolveInfo, args: dict[str, Any]) -> Window:
    """Check the page arguments as Shopify does; bulk runs ignore page sizes entirely."""
    first, last = args.get("first"), args.get("last")
    reverse = bool(args.get("reverse"))
    if info.context.bulk is not None:
        return Window(reverse=reverse)
    if first is None and last is None:
        raise _bad_request("you must provide one of first or last")
    if first is not None and last is not None:
        raise _bad_request("providing both first and last is not supported")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE_SIZE:
            raise GraphQLError(
                f"Argument '{name}' on Field '{info.field_name}' has an invalid value "
                f"({size}). Expected a page size from 0 to {MAX_PAGE_SIZE}.",
                extensions={"code": "argumentLiteralsIncompatible", "argumentName": name},
            )
    return Window(first, args.get("after"), last, args.get("before"), reverse)


def _root_connection(resource: Resource, build: Callable[..., list[dict]]) -> Callable:
    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict:
        ctx: ExecContext = info.context
        window = _window(info, args)
        search = parse_search(args.get("query"), resource.search)
        if search.warnings:
            ctx.search.append(
                {"path": info.path.as_list(), "query": args["query"], "warnings": search.warnings}
            )
        if ctx.bulk is not None:
            rows = ctx.bulk.next_chunk(resource, args["sortKey"], window.reverse, search)
            page = Page(rows, [encode_cursor(r[resource.id_column], r["__sort"]) for r in rows])
        else:
            try:
                page = fetch_page(ctx.cursor, resource, args["sortKey"], window, search)
            except CursorError as exc:
                raise _bad_request(f"Invalid cursor: {exc}") from exc
        return connection(build(ctx, page.rows), page.cursors, page.has_next, page.has_previous)

    return resolve


def _child_connection(relation: str, sorts: dict[str, tuple[str, ValueKind]]) -> Callable:
    """A nested connection paged in memory over its parent's children (loaded per batch)."""

    def resolve(parent: dict, info: GraphQLResolveInfo, **args: Any) -> dict:
        window = _window(info, args)
        column, kind = sorts[args.get("sortKey", "ID")]
        id_column = ID_COLUMNS[relation]
        # A missing SKU sorts first, as an empty string would; ids break ties.
        items = sorted(
            (
                ("" if n["_row"][column] is None else n["_row"][column], n["_row"][id_column], n)
                for n in nodes.children(parent, relation)
            ),
            key=lambda item: item[:2],
        )
        try:
            return connection(*paginate_list(items, kind, window))
        except CursorError as exc:
            raise _bad_request(f"Invalid cursor: {exc}") from exc

    return resolve


def parse_gid(value: str, kind: str) -> int | None:
    """The numeric id of a GID of `kind`; None for another kind; an error if malformed."""
    match = re.fullmatch(r"gid://shopify/(\w+)/(\d+)", value)
    if match is None:
        raise GraphQLError(
            f"Invalid global id '{value}'",
            extensions={"code": "argumentLiteralsIncompatible", "typeName": "CoercionError"},
        )
    return int(match[2]) if match[1] == kind else None


def _single(kind: str, source: str, id_column: str, build: Callable[..., list[dict]]) -> Callable:
    def resolve(_root: Any, info: GraphQLResolveInfo, id: str) -> dict | None:
        ctx: ExecContext = info.context
        number = parse_gid(id, kind)
        found = fetch_by_ids(ctx.cursor, source, id_column, [number]) if number else {}
        built = build(ctx, list(found.values()))
        return built[0] if built else None

    return resolve


def _shop(_root: Any, info: GraphQLResolveInfo) -> dict:
    shop: ShopInfo = info.context.shop
    return {
        "id": "gid://shopify/Shop/1",
        "name": shop.name,
        "myshopifyDomain": shop.myshopify_domain,
        "ianaTimezone": shop.iana_timezone,
        "currencyCode": shop.currency_code,
    }


def _bulk(method: str) -> Callable:
    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        return getattr(info.context.bulk_ops, method)(**args)

    return resolve


def _relation(load: Callable[[dict], Any]) -> Callable:
    def resolve(parent: dict, _info: GraphQLResolveInfo) -> Any:
        return load(parent)

    return resolve


@cache
def executable_schema() -> GraphQLSchema:
    """The Shopify schema with every resolver attached (built once per process)."""
    schema = shopify_schema()
    wiring: dict[tuple[str, str], Callable] = {
        ("QueryRoot", "shop"): _shop,
        ("QueryRoot", "customers"): _root_connection(CUSTOMERS, nodes.customers),
        ("QueryRoot", "orders"): _root_connection(ORDERS, nodes.orders),
        ("QueryRoot", "products"): _root_connection(PRODUCTS, nodes.products),
        ("QueryRoot", "abandonedCheckouts"): _root_connection(ABANDONED_CHECKOUTS, nodes.checkouts),
        ("QueryRoot", "customer"): _single(
            "Customer", "v_shopify_customers", "customer_id", nodes.customers
        ),
        ("QueryRoot", "order"): _single("Order", "v_orders", "order_id", nodes.orders),
        ("QueryRoot", "product"): _single(
            "Product", f"({PRODUCTS_SQL})", "product_id", nodes.products
        ),
        ("QueryRoot", "bulkOperation"): _bulk("get"),
        ("QueryRoot", "currentBulkOperation"): _bulk("current"),
        ("Mutation", "bulkOperationRunQuery"): _bulk("run_query"),
        ("Mutation", "bulkOperationCancel"): _bulk("cancel"),
        ("Order", "customer"): _relation(nodes.related_customer),
        ("AbandonedCheckout", "customer"): _relation(nodes.related_customer),
        ("Order", "lineItems"): _child_connection("orderLines", {"ID": ("line_id", "int")}),
        ("AbandonedCheckout", "lineItems"): _child_connection(
            "checkoutLines", {"ID": ("line_id", "int")}
        ),
        ("Product", "variants"): _child_connection(
            "variants",
            {
                "ID": ("variant_id", "int"),
                "POSITION": ("variant_id", "int"),
                "RELEVANCE": ("variant_id", "int"),
                "SKU": ("sku", "text"),
            },
        ),
        ("LineItem", "product"): _relation(nodes.related_product),
        ("LineItem", "variant"): _relation(nodes.related_variant),
        ("AbandonedCheckoutLineItem", "product"): _relation(nodes.related_product),
        ("AbandonedCheckoutLineItem", "variant"): _relation(nodes.related_variant),
        ("ProductVariant", "product"): _relation(nodes.related_product),
    }
    for (type_name, field_name), resolver in wiring.items():
        schema.type_map[type_name].fields[field_name].resolve = resolver  # type: ignore[union-attr]
    return schema
