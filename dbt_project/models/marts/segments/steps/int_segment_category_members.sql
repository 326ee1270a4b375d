{#-
    Category segment rules (<category>_lovers): people whose item quantity is mostly one lover
    category (the shop's own categories, `shop_categories`), over enough orders, before the
    customers mart's as-of date. Documented on `customer_segments`.
-#}

with

as_of as (

    select max(as_of_date) as as_of_date from {{ ref('customers') }}

),

category_quantities as (

    select
        order_items.customer_id,
        order_items.category,
        sum(order_items.quantity) as quantity,
        count(distinct order_items.order_id) as orders
    from {{ ref('order_items') }} as order_items
    inner join {{ ref('orders') }} as orders on order_items.order_id = orders.order_id
    cross join as_of
    where
        order_items.customer_id is not null
        and not orders.is_cancelled
        and orders.ordered_at < as_of.as_of_date
    group by order_items.customer_id, order_items.category

),

category_shares as (

    select
        customer_id,
        category,
        orders,
        quantity / nullif(sum(quantity) over (partition by customer_id), 0) as quantity_share
    from category_quantities

),

final as (

    select
        customer_id,
        category || '_lovers' as segment
    from category_shares
    where
        category in {{ lover_categories_sql() }}
        and quantity_share >= {{ var('segment_lover_min_share') }}
        and orders >= {{ var('segment_lover_min_orders') }}

)

select * from final
