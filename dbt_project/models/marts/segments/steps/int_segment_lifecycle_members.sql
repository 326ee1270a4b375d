{#-
    Lifecycle segment rules (new customers, active, lapsed win-back) from order recency as of
    the customers mart's as-of date. Each rule is documented on `customer_segments`.
-#}

with

customers as (

    select * from {{ ref('customers') }}

),

final as (

    select
        customer_id,
        'new_customers' as segment
    from customers
    where days_since_first_order < {{ var('segment_new_customer_days') }}

    union all

    select
        customer_id,
        'active' as segment
    from customers
    where days_since_last_order < {{ var('segment_active_days') }}

    union all

    select
        customer_id,
        'lapsed_win_back' as segment
    from customers
    where
        days_since_last_order >= {{ var('segment_lapsed_min_days') }}
        and days_since_last_order < {{ var('segment_lapsed_max_days') }}

)

select * from final
