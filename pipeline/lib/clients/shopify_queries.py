"""What the pipeline reads from Shopify, declared once and rendered as paged or bulk queries.

Each entity is a tree of fields: scalars (strings), nested objects (`Obj`) and at most one level of
nested connections (`Conn`). From that one declaration come the paginated query, the follow-up
query for a record whose nested connection has more than one page, the bulk query, the GID types
that tell which nested list a bulk child line belongs to, and the cost estimate that sizes pages.

Cost rules (shopify.dev, "API rate limits", calculated query cost): scalars and enums 0, objects 1,
a connection 2 plus `first` times the cost of one node. `pageInfo` is counted as one object,
which Shopify may not charge: the estimate errs on the side of smaller pages.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_QUERY_COST = 1000
MAX_PAGE_SIZE = 250
_PAGE_INFO = "pageInfo { hasNextPage endCursor }"


@dataclass(frozen=True)
class Obj:
    """A nested object field (costs 1 plus its own object fields)."""

    name: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Conn:
    """A nested connection, returned to callers as a plain list under `name`."""

    name: str
    node_type: str  # the GID type of its nodes, e.g. "LineItem" in gid://shopify/LineItem/1
    fields: tuple[Field, ...]
    page_size: int  # `first:` inside a paginated query; the rest is fetched per record


Field = str | Obj | Conn


@dataclass(frozen=True)
class Entity:
    """A top-level connection the pipeline reads, and the fields of its nodes."""

    connection: str
    fields: tuple[Field, ...]

    @property
    def nested(self) -> dict[str, Conn]:
        return {f.name: f for f in self.fields if isinstance(f, Conn)}


def _money(name: str) -> Obj:
    return Obj(name, (Obj("shopMoney", ("amount", "currencyCode")),))


_LINE_FIELDS: tuple[Field, ...] = (
    "id",
    "title",
    "sku",
    "quantity",
    _money("originalUnitPriceSet"),
    Obj("product", ("id", "productType")),
    Obj("variant", ("id",)),
)

ENTITIES: dict[str, Entity] = {
    "customers": Entity(
        "customers",
        (
            "id",
            # Deprecated in favour of defaultEmailAddress but still served by the pinned version;
            # both are read so the raw record keeps the shape older exports had.
            "email",
            "firstName",
            "lastName",
            "phone",
            "createdAt",
            "updatedAt",
            "numberOfOrders",
            Obj("amountSpent", ("amount", "currencyCode")),
            "tags",
            Obj(
                "emailMarketingConsent",
                ("marketingState", "marketingOptInLevel", "consentUpdatedAt"),
            ),
            Obj("defaultEmailAddress", ("emailAddress", "marketingState")),
        ),
    ),
    "orders": Entity(
        "orders",
        (
            "id",
            "name",
            "email",
            "createdAt",
            "updatedAt",
            "processedAt",
            "cancelledAt",
            "test",
            "currencyCode",
            "displayFinancialStatus",
            "discountCodes",
            Obj("customer", ("id",)),
            _money("subtotalPriceSet"),
            _money("totalPriceSet"),
            _money("totalDiscountsSet"),
            _money("totalRefundedSet"),
            # Ten lines cover almost every order; longer orders are completed per order.
            Conn("lineItems", "LineItem", _LINE_FIELDS, page_size=10),
        ),
    ),
    "products": Entity(
        "products",
        (
            "id",
            "title",
            "productType",
            "vendor",
            "createdAt",
            "updatedAt",
            Conn("variants", "ProductVariant", ("id", "sku", "price"), page_size=25),
        ),
    ),
    "abandoned_checkouts": Entity(
        "abandonedCheckouts",
        (
            "id",
            "createdAt",
            "updatedAt",
            "completedAt",
            Obj("customer", ("id",)),
            _money("totalPriceSet"),
            Conn("lineItems", "AbandonedCheckoutLineItem", _LINE_FIELDS, page_size=10),
        ),
    ),
}


def node_cost(fields: tuple[Field, ...]) -> int:
    """Requested cost of one node with these fields, its own 1 and nested pages included."""
    total = 1
    for field in fields:
        if isinstance(field, Obj):
            total += node_cost(field.fields)
        elif isinstance(field, Conn):
            total += connection_cost(node_cost(field.fields), field.page_size)
    return total


def connection_cost(per_node: int, first: int) -> int:
    return 2 + 1 + first * per_node  # 2 for the connection, 1 for its pageInfo


def largest_page(per_node: int, overhead: int = 0) -> int:
    """The most nodes a connection may ask for while the whole query (the connection, its nodes
    and `overhead` around it) stays within the single-query cost limit."""
    fits = (MAX_QUERY_COST - overhead - connection_cost(0, 0)) // per_node
    return max(1, min(MAX_PAGE_SIZE, fits))


def page_size(entity: Entity) -> int:
    """Top-level page size for `entity`."""
    return largest_page(node_cost(entity.fields))


def rest_page_size(conn: Conn) -> int:
    """Page size for the rest of one record's nested connection: the record's own top-level
    connection of one node sits around it."""
    return largest_page(node_cost(conn.fields), overhead=connection_cost(1, 1))


def _selection(fields: tuple[Field, ...], *, bulk: bool) -> str:
    parts = []
    for field in fields:
        if isinstance(field, str):
            parts.append(field)
        elif isinstance(field, Obj):
            parts.append(f"{field.name} {{ {_selection(field.fields, bulk=bulk)} }}")
        elif bulk:
            # Bulk operations ignore page sizes and need `edges { node }` (shopify.dev bulk guide).
            parts.append(f"{field.name} {_edges(field.fields, bulk=True)}")
        else:
            parts.append(f"{field.name}(first: {field.page_size}) {_edges(field.fields)}")
    return " ".join(parts)


def _edges(fields: tuple[Field, ...], *, bulk: bool = False) -> str:
    """A connection's body: its nodes, and the page info that paged reads follow."""
    nodes = f"edges {{ node {{ {_selection(fields, bulk=bulk)} }} }}"
    return f"{{ {nodes} }}" if bulk else f"{{ {nodes} {_PAGE_INFO} }}"


def page_query(entity: Entity) -> str:
    """One page of `entity` nodes matching `$query`, in id order, after `$after`."""
    return (
        "query Page($first: Int!, $after: String, $query: String!) { "
        f"{entity.connection}(first: $first, after: $after, query: $query, sortKey: ID) "
        f"{_edges(entity.fields)} }}"
    )


def rest_query(entity: Entity, conn: Conn) -> str:
    """The next page of one record's nested connection, the record found by `id:` search.

    Searching the top-level connection by id works for every entity, including abandoned
    checkouts, which have no single-record root field.
    """
    return (
        "query Rest($query: String!, $first: Int!, $after: String) { "
        f"{entity.connection}(first: 1, query: $query) {{ edges {{ node {{ id "
        f"{conn.name}(first: $first, after: $after) {_edges(conn.fields)} }} }} }} }}"
    )


def bulk_query(entity: Entity, search: str) -> str:
    """The whole of `entity` matching `search`, as a bulk operation query."""
    return (
        f"{{ {entity.connection}(query: {_quote(search)}, sortKey: ID) "
        f"{_edges(entity.fields, bulk=True)} }}"
    )


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


RUN_BULK = """mutation RunBulk($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""

POLL_BULK = """query PollBulk($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url }
}"""
