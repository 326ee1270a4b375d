-- Every order before the as-of date is counted for exactly one customer: the customers' net
-- revenue adds up to the orders' (an identity joined twice, or dropped, would break this).
-- In Dagster this is an asset check on `customers` (a singular test reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'customers'}}}) }}

with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

from_orders as (

    select coalesce(sum(orders.net_amount), 0) as net_revenue
    from {{ ref('orders') }} as orders
    cross join as_of
    where
        orders.customer_id is not null
        and not orders.is_cancelled
        and orders.ordered_at < as_of.as_of_date

),

from_customers as (

    select coalesce(sum(lifetime_net_revenue), 0) as net_revenue
    from {{ ref('customers') }}

)

select
    from_orders.net_revenue as orders_net_revenue,
    from_customers.net_revenue as customers_net_revenue
from from_orders
cross join from_customers
where from_orders.net_revenue <> from_customers.net_revenue
