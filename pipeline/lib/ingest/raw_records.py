"""What each raw table holds: the record specs of every source's raw tables.

Grain: one `RecordSpec` per raw table (`<schema>.<table>`), one raw row per source record key.
The full record is always kept as JSON; the typed columns here are the few that loading, partitions
and dbt staging need directly. `record_sql` turns a spec into the DuckDB SQL that extracts and
validates those columns, and `record_batches` turns source records into the Arrow batches that SQL
reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COLUMN_TYPES = ("varchar", "timestamp", "double", "bigint", "boolean")
MODES = ("merge", "insert_once")


@dataclass(frozen=True)
class Column:
    """A typed column: `name` in the warehouse, read from the dotted `path` into the record."""

    name: str
    path: str
    type: str
    required: bool = False
    max_abs: float | None = None
    """A number whose absolute value reaches this is quarantined as out of range."""

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"Column {self.name}: type must be one of {COLUMN_TYPES}")

    @property
    def label(self) -> str:
        """The source field's own name, as quarantine reasons quote it ("$value", "updatedAt")."""
        return self.path.rsplit(".", 1)[-1]


# Money is stored as decimal(18, 2) downstream, which holds less than 1e16: a larger amount is
# no real order, and letting it through would fail that cast in every later build.
MAX_AMOUNT = 1e16


def _amount(name: str, path: str, required: bool = False) -> Column:
    return Column(name, path, "double", required, MAX_AMOUNT)


@dataclass(frozen=True)
class Identifier:
    """A field of a record that names a person: `kind` is an identifier kind of
    `erasure_keys.KINDS`, `path` the dotted path into the record."""

    kind: str
    path: str


@dataclass(frozen=True)
class RecordSpec:
    """A raw table: its key, typed columns and write mode, and the fields that name a person.

    `merge` replaces the row of a key whose record changed (mutable entities); `insert_once` keeps
    the first stored record of a key (events, which never change once they happened). A record
    whose `identifiers` hash to an erased person's is never loaded (see `erased_records_sql`).
    """

    schema: str
    table: str
    key: Column
    columns: list[Column] = field(default_factory=list)
    mode: str = "merge"
    identifiers: tuple[Identifier, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"{self.name}: mode must be one of {MODES}")

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def quarantine(self) -> str:
        return f"{self.schema}.{self.table}_quarantine"

    @property
    def all_columns(self) -> list[Column]:
        return [self.key, *self.columns]


def _ts(name: str, path: str, required: bool = False) -> Column:
    return Column(name, path, "timestamp", required)


def _shopify(table: str, *columns: Column, identifiers: tuple[Identifier, ...] = ()) -> RecordSpec:
    key = Column("id", "id", "varchar", required=True)
    columns = (_ts("updated_at", "updatedAt", True), *columns)
    return RecordSpec("raw_shopify", table, key, list(columns), identifiers=identifiers)


def _klaviyo(
    table: str, *columns: Column, mode: str = "merge", identifiers: tuple[Identifier, ...] = ()
) -> RecordSpec:
    key = Column("id", "id", "varchar", required=True)
    return RecordSpec("raw_klaviyo", table, key, list(columns), mode, identifiers)


def _mailchimp(
    table: str, *columns: Column, mode: str = "merge", identifiers: tuple[Identifier, ...] = ()
) -> RecordSpec:
    key = Column("id", "id", "varchar", required=True)
    return RecordSpec("raw_mailchimp", table, key, list(columns), mode, identifiers)


# Where each source names a person. Shopify orders and checkouts name their customer and carry
# the buyer's email (a guest order only the email); an order is also erased by its own id (a
# `customers/redact` request lists the orders to redact).
_SHOPIFY_CUSTOMER = Identifier("shopify", "customer.id")
_EMAIL = Identifier("email", "email")


_CATALOGUE = (Column("name", "attributes.name", "varchar"), _ts("updated_at", "attributes.updated"))

RAW_TABLES: dict[tuple[str, str], RecordSpec] = {
    ("shopify", "customers"): _shopify(
        "customers",
        _ts("created_at", "createdAt"),
        Column("email", "email", "varchar"),
        identifiers=(Identifier("shopify", "id"), _EMAIL),
    ),
    ("shopify", "orders"): _shopify(
        "orders",
        _ts("created_at", "createdAt"),
        _ts("processed_at", "processedAt"),
        _ts("cancelled_at", "cancelledAt"),
        Column("customer_id", "customer.id", "varchar"),
        _amount("total", "totalPriceSet.shopMoney.amount", required=True),
        Column("currency", "totalPriceSet.shopMoney.currencyCode", "varchar"),
        Column("test", "test", "boolean"),
        identifiers=(Identifier("shopify", "id"), _SHOPIFY_CUSTOMER, _EMAIL),
    ),
    ("shopify", "products"): _shopify("products", _ts("created_at", "createdAt")),
    ("shopify", "abandoned_checkouts"): _shopify(
        "abandoned_checkouts",
        _ts("created_at", "createdAt"),
        Column("customer_id", "customer.id", "varchar"),
        identifiers=(_SHOPIFY_CUSTOMER, _EMAIL),
    ),
    ("klaviyo", "profiles"): _klaviyo(
        "profiles",
        _ts("updated_at", "attributes.updated", True),
        _ts("created_at", "attributes.created"),
        Column("email", "attributes.email", "varchar"),
        identifiers=(Identifier("klaviyo", "id"), Identifier("email", "attributes.email")),
    ),
    ("klaviyo", "events"): _klaviyo(
        "events",
        _ts("occurred_at", "attributes.datetime", True),
        Column("metric_id", "relationships.metric.data.id", "varchar"),
        Column("profile_id", "relationships.profile.data.id", "varchar"),
        _amount("value", "attributes.event_properties.$value"),
        mode="insert_once",
        identifiers=(Identifier("klaviyo", "relationships.profile.data.id"),),
    ),
    ("klaviyo", "lists"): _klaviyo("lists", *_CATALOGUE),
    ("klaviyo", "metrics"): _klaviyo("metrics", *_CATALOGUE),
    ("mailchimp", "members"): _mailchimp(
        "members",
        _ts("updated_at", "last_changed", True),
        _ts("created_at", "timestamp_signup"),
        Column("email", "email_address", "varchar"),
        Column("status", "status", "varchar", required=True),
        identifiers=(Identifier("email", "email_address"),),
    ),
    ("mailchimp", "campaigns"): _mailchimp("campaigns", _ts("sent_at", "send_time", True)),
    ("mailchimp", "email_activity"): _mailchimp(
        "email_activity",
        _ts("occurred_at", "timestamp", True),
        Column("campaign_id", "campaign_id", "varchar", required=True),
        Column("member_id", "email_id", "varchar", required=True),
        Column("action", "action", "varchar", required=True),
        mode="insert_once",
        identifiers=(Identifier("email", "email_address"),),
    ),
    ("files", "orders"): RecordSpec(
        "raw_files",
        "orders",
        Column("order_id", "order_id", "varchar", required=True),
        [
            Column("customer_id", "customer_id", "varchar", required=True),
            _ts("ordered_at", "ordered_at", True),
            _amount("total", "total", required=True),
            Column("email", "email", "varchar"),
            Column("currency", "currency", "varchar"),
            Column("quantity", "quantity", "bigint"),
            Column("product", "product", "varchar"),
            Column("category", "category", "varchar"),
        ],
        identifiers=(Identifier("files", "customer_id"), _EMAIL),
    ),
}
