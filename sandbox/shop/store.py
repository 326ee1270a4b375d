"""The generated store as it stood at the sandbox clock `now`: the `v_*` views the APIs serve.

Nothing created at or after `now` is visible, and mutable state (consent, refunds, order counts,
`updated_at`) is shown as it was at `now`. Entity views are materialised once when the view opens
(they are small and every page of every paginated query reads them); event and line views stay
lazy over the store file, whose events are sorted by time so range scans stay cheap at any size.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

import duckdb

from sandbox.shop.simulator import StoreSpec

_ENTITY_VIEWS = """
create table consent_at_now as
select
    person_id,
    arg_max(state, changed_at) filter (where state is not null) as consent,
    max(changed_at) filter (where state is not null) as consent_timestamp,
    arg_max(method, changed_at) filter (where state is not null) as consent_method,
    arg_max(suppression, changed_at) filter (where suppression is not null) as suppression_reason,
    max(changed_at) filter (where suppression is not null) as suppression_timestamp,
    max(changed_at) as last_change
from store.consent_changes
where changed_at < {now}
group by person_id;

create table v_orders as
select
    o.order_id,
    '#' || n.order_number as name,
    o.customer_id,
    o.email,
    o.created_at,
    greatest(o.created_at, case when o.refunded_at < {now} then o.refunded_at end) as updated_at,
    o.created_at as processed_at,
    o.tz_offset_minutes,
    '{currency}' as currency,
    o.subtotal,
    o.total_discounts,
    o.total_price,
    case when o.discount_code is null then []::varchar[] else [o.discount_code] end
        as discount_codes,
    o.test,
    case
        when o.refunded_at >= {now} or o.refunded_at is null then 'PAID'
        when o.refund_amount >= o.total_price then 'REFUNDED'
        else 'PARTIALLY_REFUNDED'
    end as financial_status,
    case when o.refunded_at < {now} then o.refund_amount else 0 end::decimal(12, 2)
        as total_refunded,
    null::timestamp as cancelled_at
from store.orders as o
inner join store.order_numbers as n on o.order_id = n.order_id
where o.created_at < {now};

create table v_shopify_customers as
with order_totals as (
    select
        customer_id,
        count(*) as number_of_orders,
        sum(total_price - total_refunded) as amount_spent,
        max(updated_at) as last_order_change
    from v_orders
    where not test
    group by customer_id
)
select
    c.customer_id,
    c.email,
    c.first_name,
    c.last_name,
    c.phone,
    c.created_at,
    greatest(c.created_at, t.last_order_change, k.consent_timestamp) as updated_at,
    case k.consent
        when 'SUBSCRIBED' then 'SUBSCRIBED'
        when 'UNSUBSCRIBED' then 'UNSUBSCRIBED'
        else 'NOT_SUBSCRIBED'
    end as marketing_state,
    k.consent_timestamp as consent_updated_at,
    coalesce(t.number_of_orders, 0) as number_of_orders,
    coalesce(t.amount_spent, 0)::decimal(12, 2) as amount_spent,
    case when c.person_id is null then ['staff'] else []::varchar[] end as tags
from store.shopify_customers as c
left join order_totals as t on c.customer_id = t.customer_id
left join consent_at_now as k on c.person_id = k.person_id
where c.created_at < {now};

-- What Klaviyo's "Placed Order" event carries about its order (Items, ItemNames, Categories),
-- one row per order, as a store integration sends it.
create table placed_order_items as
select
    l.order_id,
    list(json_object(
        'ProductID', l.product_id::varchar, 'SKU', l.sku, 'ProductName', l.title,
        'Quantity', l.quantity, 'ItemPrice', round(l.unit_price, 2),
        'RowTotal', round(l.unit_price * l.quantity, 2), 'Categories', [p.product_type]
    ) order by l.line_id) as items,
    list(l.title order by l.line_id) as item_names,
    list(distinct p.product_type order by p.product_type) as categories
from store.order_lines as l
inner join store.products as p on l.product_id = p.product_id
semi join v_orders as o on l.order_id = o.order_id
group by l.order_id;

create table v_klaviyo_profiles as
select
    profile_id(p.person_id) as profile_id,
    lower(p.email) as email,
    p.first_name,
    p.last_name,
    p.phone as phone_number,
    p.signup_at - interval 2 day as created,
    greatest(p.signup_at - interval 2 day, k.last_change) as updated,
    coalesce(k.consent, 'NEVER_SUBSCRIBED') as consent,
    k.consent_timestamp,
    k.consent_method,
    k.suppression_reason,
    k.suppression_timestamp
from store.people as p
left join consent_at_now as k on p.person_id = k.person_id
where p.signup_at - interval 2 day < {now};
"""

_LAZY_VIEWS = """
create view v_products as
select * exclude (price), price::decimal(10, 2) as price from store.products
where created_at < {now};

create view v_order_lines as
select l.* from store.order_lines as l semi join v_orders as o on l.order_id = o.order_id;

create view v_abandoned_checkouts as
select checkout_id, customer_id, email, created_at, created_at as updated_at, total_price,
    '{currency}' as currency
from store.checkouts where created_at < {now};

create view v_checkout_lines as
select l.* from store.checkout_lines as l
semi join v_abandoned_checkouts as c on l.checkout_id = c.checkout_id;

create view v_campaigns as
select campaign_id, name, category, sent_at from store.campaigns where sent_at < {now};

create view v_metrics as
select metric_id, name, integration_name, integration_category, created, created as updated
from store.metrics where created < {now};

create view v_events as
select
    e.event_id::varchar as event_id,
    m.metric_id,
    profile_id(e.person_id) as profile_id,
    e.occurred_at,
    e.tz_offset_minutes,
    case when e.detail = 'malformed_value' then null else e.value end as value,
    case
        when e.detail = 'malformed_value'
            -- an order pushed by a third-party app that formats money as local text
            then json_object(
                'OrderId', e.order_id, '$value', replace(e.value::varchar, '.', ','),
                'Items', i.items, 'ItemNames', i.item_names, 'Categories', i.categories
            )
        when e.order_id is not null then json_object(
            'OrderId', e.order_id,
            'Items', i.items, 'ItemNames', i.item_names, 'Categories', i.categories
        )
        when e.campaign_id is not null then json_object(
            'Campaign Name', c.name, 'Subject', c.name, '$message', e.campaign_id::varchar,
            'Bounce Type', e.detail
        )
        when e.product_id is not null then json_object(
            'ProductID', e.product_id, 'ProductName', p.title,
            'Categories', [p.product_type], 'Price', p.price
        )
        else json_object()
    end::varchar as properties,
    uuid_from_id(e.event_id) as event_uuid
from store.events as e
inner join store.metrics as m on e.metric_index = m.metric_index
left join store.campaigns as c on e.campaign_id = c.campaign_id
left join store.products as p on e.product_id = p.product_id
left join placed_order_items as i on e.order_id = i.order_id
where e.occurred_at < {now};
"""


class StoreView:
    """A read-only window on a generated store at `now`; `cursor()` is safe per thread."""

    def __init__(self, store_path: Path, now: datetime):
        self.path = Path(store_path)
        self.now = now
        self._lock = threading.Lock()
        self._con = duckdb.connect(":memory:")
        self._con.execute(f"attach '{self.path}' as store (read_only)")
        self.spec = StoreSpec(**_spec_fields(self._con))
        self._con.execute(
            f"create macro profile_id(person) as '01J' || upper(to_base({self.spec.seed % 2**20},"
            " 32, 4)) || upper(to_base(person, 32, 19))"
        )
        self._con.execute(
            "create macro uuid_from_id(id) as regexp_replace(md5(id::varchar),"
            " '^(.{8})(.{4})(.{4})(.{4})(.{12})$', '\\1-\\2-\\3-\\4-\\5')"
        )
        # Views live in the in-memory database (not `temp`) so that every cursor sees them.
        now_literal = f"timestamp '{now.isoformat(sep=' ')}'"
        currency = self.spec.shop.currency
        self._con.execute(_ENTITY_VIEWS.format(now=now_literal, currency=currency))
        self._con.execute(_LAZY_VIEWS.format(now=now_literal, currency=currency))

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._con.cursor()

    def close(self) -> None:
        self._con.close()


def _spec_fields(con: duckdb.DuckDBPyConnection) -> dict:
    (text,) = con.execute("select value from store.meta where key = 'spec'").fetchall()[0]
    fields = json.loads(text)
    fields["start"] = datetime.fromisoformat(fields["start"]).date()
    return fields
