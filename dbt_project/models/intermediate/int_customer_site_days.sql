{#-
    Grain: one row per (customer_id, activity_date) with browsing activity tracked by Klaviyo:
    that day's product views and add-to-carts, with running totals up to and including the
    day, for ASOF lookups by the features.
-#}
with

events as (

    select * from {{ ref('site_events') }}
    where event_type in ('viewed_product', 'added_to_cart')

),

daily as (

    select
        customer_id,
        cast(occurred_at as date) as activity_date,
        count(*) filter (where event_type = 'viewed_product') as product_views,
        count(*) filter (where event_type = 'added_to_cart') as add_to_carts
    from events
    group by customer_id, cast(occurred_at as date)

),

final as (

    select
        customer_id,
        activity_date,
        sum(product_views) over customer_history as cumulative_product_views,
        sum(add_to_carts) over customer_history as cumulative_add_to_carts
    from daily
    window customer_history as (
        partition by customer_id order by activity_date rows unbounded preceding
    )

)

select * from final
