{#-
    Grain: one row per (customer_id, category, activity_date) on which the customer viewed a
    product of the category or added one to a cart, with the running count of those up to and
    including the day, so the features as of D read each category's count with one ASOF lookup.
    Same timing as the other site activity: an event counts from when it happened and was
    attributable to the customer. Products without a category are left out.
-#}

with

events as (

    select * from {{ ref('site_events') }}
    where
        event_type in ('viewed_product', 'added_to_cart')
        and category is not null

),

daily as (

    select
        customer_id,
        category,
        cast(greatest(occurred_at, attributed_at) as date) as activity_date,
        count(*) as browsed
    from events
    group by customer_id, category, cast(greatest(occurred_at, attributed_at) as date)

),

final as (

    select
        customer_id,
        category,
        activity_date,
        cast(sum(browsed) over customer_category_history as integer) as cumulative_browsed
    from daily
    window customer_category_history as (
        partition by customer_id, category order by activity_date rows unbounded preceding
    )

)

select * from final
