{#-
    Grain: one row per (customer_id, category, activity_date) on which the customer's item
    quantity in the category changed: an order placed (up), an order cancelled (down). Each row
    carries the running quantity up to and including the day, so the features as of D read
    each category's quantity with one ASOF lookup. Categories are the names the shop's data
    uses (product types, a CSV's category column); items without one are left out.
-#}

with

orders as (

    select * from {{ ref('orders') }}
    where customer_id is not null

),

order_categories as (

    select
        order_id,
        category,
        sum(quantity) as quantity
    from {{ ref('order_items') }}
    where category is not null
    group by order_id, category

),

-- Same timing as the order totals: an order counts from when it was placed and attributable
-- to the customer until it is cancelled.
changes as (

    select
        orders.customer_id,
        order_categories.category,
        greatest(orders.ordered_at, orders.attributed_at) as changed_at,
        order_categories.quantity
    from orders
    inner join order_categories on orders.order_id = order_categories.order_id

    union all

    select
        orders.customer_id,
        order_categories.category,
        greatest(orders.cancelled_at, orders.attributed_at) as changed_at,
        -order_categories.quantity as quantity
    from orders
    inner join order_categories on orders.order_id = order_categories.order_id
    where orders.cancelled_at is not null

),

daily as (

    select
        customer_id,
        category,
        cast(changed_at as date) as activity_date,
        sum(quantity) as quantity
    from changes
    group by customer_id, category, cast(changed_at as date)

),

final as (

    select
        customer_id,
        category,
        activity_date,
        cast(sum(quantity) over customer_category_history as integer) as cumulative_quantity
    from daily
    window customer_category_history as (
        partition by customer_id, category order by activity_date rows unbounded preceding
    )

)

select * from final
