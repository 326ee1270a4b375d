{#-
    Intent segment rules (checkout and cart abandoners): people who added to cart or started a
    checkout in the recent window with no order since, as of the customers mart's as-of date.
    Documented on `customer_segments`.
-#}
{%- set abandon_days = var('segment_abandon_days') -%}

with

customers as (

    select * from {{ ref('customers') }}

),

as_of as (

    select max(as_of_date) as as_of_date from customers

),

recent_intent as (

    select
        site_events.customer_id,
        max(site_events.occurred_at) filter (
            where site_events.event_type = 'added_to_cart'
        ) as last_cart_at,
        max(site_events.occurred_at) filter (
            where site_events.event_type in ('started_checkout', 'abandoned_checkout')
        ) as last_checkout_at
    from {{ ref('site_events') }} as site_events
    cross join as_of
    where
        site_events.occurred_at >= as_of.as_of_date - {{ abandon_days }}
        and site_events.occurred_at < as_of.as_of_date
    group by site_events.customer_id

),

-- "No order since": customers.last_order_at is the latest order before the as-of date.
abandoners as (

    select
        recent_intent.customer_id,
        coalesce(
            recent_intent.last_checkout_at > customers.last_order_at
            or customers.last_order_at is null and recent_intent.last_checkout_at is not null,
            false
        ) as abandoned_checkout,
        coalesce(
            recent_intent.last_cart_at > customers.last_order_at
            or customers.last_order_at is null and recent_intent.last_cart_at is not null,
            false
        ) as abandoned_cart
    from recent_intent
    inner join customers on recent_intent.customer_id = customers.customer_id

),

-- One abandonment flow per person: a checkout abandoner is not also a cart abandoner.
final as (

    select
        customer_id,
        'checkout_abandoners' as segment
    from abandoners
    where abandoned_checkout

    union all

    select
        customer_id,
        'cart_abandoners' as segment
    from abandoners
    where abandoned_cart and not abandoned_checkout

)

select * from final
