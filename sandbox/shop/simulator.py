"""Generate a simulated store into a DuckDB file, chunk by chunk with bounded memory.

The store is a pure function of `StoreSpec` (shape, seed, customers, start, days, dirt): every
chunk of people draws from its own generator seeded by (seed, chunk number), so the result does
not depend on timing or on the machine. The simulation runs `FUTURE_DAYS` past `start + days`,
so the true future of every customer is known; which part the APIs reveal is decided later by
the clock (`store.StoreView`), never here.

Tables (one row per): `people` person with true traits; `shopify_customers` Shopify customer
record (a person may have a duplicate); `products`; `orders`; `order_lines`; `checkouts` and
`checkout_lines` (abandoned); `consent_changes`; `campaigns`; `metrics`; `events` (Klaviyo).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sandbox.shop import behaviour, engagement
from sandbox.shop.catalogue import build_catalogue, campaign_calendar
from sandbox.shop.contacts import contact_details, email_variant
from sandbox.shop.schema import store_ddl
from sandbox.shop.shapes import DEFAULT_SHAPE, ShopShape, shape_named
from sandbox.shop.store_tables import (
    CHECKOUT_ID_BASE,
    CUSTOMER_ID_BASE,
    DUPLICATE_ID_BASE,
    ORDER_ID_BASE,
    add_test_orders,
    append,
    insert_events,
    insert_lines,
    timestamps,
    write_static,
)

SIMULATOR_VERSION = 1
FUTURE_DAYS = 365
CHUNK_SIZE = 20_000
GENERATION_MEMORY_LIMIT = "1GB"


@dataclass(frozen=True)
class StoreSpec:
    """Everything a store is a function of."""

    seed: int = 1
    customers: int = 10_000
    start: date = date(2024, 1, 1)
    days: int = 730
    dirt: float = 0.02
    shape: str = DEFAULT_SHAPE

    @property
    def shop(self) -> ShopShape:
        return shape_named(self.shape)

    @property
    def end(self) -> date:
        """The default `now`: the first day after the observed history."""
        return self.start + timedelta(days=self.days)

    @property
    def simulated_until(self) -> date:
        """The first day the simulation did not reach: the clock may advance up to it."""
        return self.end + timedelta(days=FUTURE_DAYS)

    def file_name(self) -> str:
        # The default shape keeps the name stores had before shapes existed, so they stay valid.
        shape = "" if self.shape == DEFAULT_SHAPE else f"-{self.shape}"
        return (
            f"store-v{SIMULATOR_VERSION}{shape}-seed{self.seed}-n{self.customers}-{self.start}"
            f"-d{self.days}-dirt{self.dirt:g}.duckdb"
        )

    def fields(self) -> dict:
        """The spec as stored in the store's `meta` (no shape key for the default shape)."""
        fields = asdict(self)
        if self.shape == DEFAULT_SHAPE:
            del fields["shape"]
        return fields


def ensure_store(spec: StoreSpec, directory: Path) -> Path:
    """The store file for `spec` under `directory`, generating it on first use.

    Generation writes to a temporary name and renames at the end, so an interrupted run never
    leaves a half-written store that a later run would trust.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / spec.file_name()
    if path.exists():
        return path
    partial = path.with_suffix(f".partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    generate_store(spec, partial)
    partial.rename(path)
    return path


def generate_store(spec: StoreSpec, path: Path) -> None:
    """Simulate the whole store into a new DuckDB file at `path`."""
    start = np.datetime64(spec.start.isoformat(), "s")
    end_t = float(spec.days + FUTURE_DAYS)
    global_rng = np.random.default_rng([spec.seed, 0])
    catalogue = build_catalogue(global_rng, spec.shop)
    campaigns = campaign_calendar(end_t, spec.shop)
    with duckdb.connect(str(path)) as con:
        # Bounded memory at any size: the final sort of the events spills to disk beyond this.
        con.execute(f"set memory_limit = '{GENERATION_MEMORY_LIMIT}'")
        con.execute(store_ddl(spec.shop.category_names))
        write_static(con, spec, start, catalogue, campaigns)
        con.execute(
            "insert into meta values ('spec', ?), ('version', ?)",
            [json.dumps(spec.fields(), default=str), str(SIMULATOR_VERSION)],
        )
        for chunk, first in enumerate(range(0, spec.customers, CHUNK_SIZE)):
            rng = np.random.default_rng([spec.seed, chunk + 1])
            n = min(CHUNK_SIZE, spec.customers - first)
            _simulate_chunk(con, rng, spec, start, chunk, first, n, catalogue, campaigns, end_t)
        add_test_orders(con, global_rng, spec, start, catalogue)
        _finalise(con)


def _simulate_chunk(con, rng, spec, start, chunk, first, n, catalogue, campaigns, end_t) -> None:
    shop = spec.shop
    people = behaviour.draw_people(rng, first, n, spec.days, start, shop, catalogue)
    people = contact_details(rng, people, spec.dirt)
    orders = behaviour.draw_orders(rng, people, end_t, shop.gap_regularity)
    orders, lines = behaviour.price_orders(rng, catalogue, shop, people, orders)
    if shop.email_and_site_data:
        consent, email_events = engagement.email_activity(
            rng, people, campaigns, (people["email_state"] == "ok").to_numpy()
        )
        site_events, checkouts, checkout_lines = engagement.site_activity(
            rng, catalogue, people, orders, lines, end_t
        )
    else:
        consent, email_events, site_events, checkouts, checkout_lines = engagement.no_activity()
    pid = people["person_id"].to_numpy()

    # A few repeat buyers end up with a second Shopify account under a variant of their email.
    repeaters = orders.loc[orders["seq"] == 1, ["person_index", "t"]]
    repeaters = repeaters[
        (rng.random(len(repeaters)) < 2 * spec.dirt)
        & (people["email_state"].to_numpy()[repeaters["person_index"]] == "ok")
    ]
    dup_since = np.full(n, np.inf)
    dup_since[repeaters["person_index"].to_numpy()] = repeaters["t"].to_numpy()
    on_duplicate = (orders["t"].to_numpy() >= dup_since[orders["person_index"]]) & (
        rng.random(len(orders)) < 0.7
    )
    dup_people = people.iloc[repeaters["person_index"].to_numpy()]
    customers = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": CUSTOMER_ID_BASE + pid,
                    "person_id": pid,
                    "email": people["shopify_email"],
                    "created_at": people["signup_t"],
                    "is_duplicate": False,
                }
            ),
            pd.DataFrame(
                {
                    "customer_id": DUPLICATE_ID_BASE + dup_people["person_id"].to_numpy(),
                    "person_id": dup_people["person_id"].to_numpy(),
                    "email": email_variant(rng, dup_people["email"].to_numpy()),
                    "created_at": repeaters["t"].to_numpy(),
                    "is_duplicate": True,
                }
            ),
        ],
        ignore_index=True,
    )
    details = people.set_index("person_id")[["first_name", "last_name", "phone"]]
    customers = customers.join(details, on="person_id")
    customers["created_at"] = timestamps(start, customers["created_at"])
    append(con, "shopify_customers", customers)

    person_of = lambda index: pid[np.asarray(index, dtype=np.int64)]  # noqa: E731
    order_person = person_of(orders["person_index"])
    customer_id = np.where(on_duplicate, DUPLICATE_ID_BASE, CUSTOMER_ID_BASE) + order_person
    order_email = np.where(
        on_duplicate,
        customers.set_index("customer_id")["email"].reindex(customer_id).to_numpy(),
        people["shopify_email"].to_numpy()[orders["person_index"]],
    )
    order_key = chunk * 100_000_000 + np.arange(len(orders))
    order_rows = pd.DataFrame(
        {
            "order_id": ORDER_ID_BASE + order_key,
            "person_id": order_person,
            "customer_id": customer_id,
            "email": order_email,
            "created_at": timestamps(start, orders["t"]),
            "tz_offset_minutes": orders["tz_offset_minutes"],
            "subtotal": orders["subtotal"],
            "total_discounts": orders["total_discounts"],
            "total_price": orders["total_price"],
            "discount_code": orders["discount_code"],
            "refund_amount": orders["refund_amount"],
            "refunded_at": timestamps(start, orders["refund_t"]),
            "test": False,
        }
    )
    append(con, "orders", order_rows)
    insert_lines(
        con,
        "order_lines",
        "order_id",
        ORDER_ID_BASE + order_key[lines["order_index"]],
        lines,
        catalogue,
    )

    checkout_key = chunk * 100_000_000 + np.arange(len(checkouts))
    checkout_person = person_of(checkouts["person_index"])
    checkout_rows = pd.DataFrame(
        {
            "checkout_id": CHECKOUT_ID_BASE + checkout_key,
            "person_id": checkout_person,
            "customer_id": CUSTOMER_ID_BASE + checkout_person,
            "email": people["shopify_email"].to_numpy()[checkouts["person_index"]],
            "created_at": timestamps(start, checkouts["t"]),
            "total_price": checkouts["total_price"],
        }
    )
    append(con, "checkouts", checkout_rows)
    insert_lines(
        con,
        "checkout_lines",
        "checkout_id",
        CHECKOUT_ID_BASE + checkout_key[checkout_lines["checkout_index"]],
        checkout_lines,
        catalogue,
    )

    consent = consent.assign(
        person_id=person_of(consent["person_index"]), changed_at=timestamps(start, consent["t"])
    )
    append(con, "consent_changes", consent.drop(columns=["person_index", "t"]))
    insert_events(
        con,
        rng,
        spec,
        start,
        chunk,
        people,
        orders,
        order_key,
        pd.concat([email_events, site_events], ignore_index=True),
    )

    traits = people.assign(
        signup_at=timestamps(start, people["signup_t"]),
        dropout_at=timestamps(start, people["dropout_t"]),
        spend_shape=shop.spend_shape,
        **{f"taste_{c}": people[f"taste_{i}"] for i, c in enumerate(shop.category_names)},
    )
    append(
        con,
        "people",
        traits.drop(columns=["signup_t", "dropout_t", "shopify_email"]).drop(
            columns=[f"taste_{i}" for i in range(len(shop.category_names))]
        ),
    )


def _finalise(con) -> None:
    """Shop-wide numbering and physical order, done once over the whole store."""
    con.execute(
        """
        create table order_numbers as
        select order_id, 1000 + row_number() over (order by created_at, order_id) as order_number
        from orders;
        create table events_sorted as select * from events order by occurred_at, event_id;
        drop table events;
        alter table events_sorted rename to events;
        checkpoint;
        """
    )
