with

orders as (

    select * from {{ ref('int_orders') }}

),

order_items as (

    select * from {{ ref('order_items') }}

),

item_totals as (

    select
        order_id,
        count(*) as item_count,
        sum(quantity) as item_quantity,
        count(distinct category) as category_count
    from order_items
    group by order_id

),

sequenced as (

    select
        orders.order_id,
        orders.source_system,
        orders.source_order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.currency,
        orders.subtotal_amount,
        orders.discount_amount,
        orders.total_amount,
        orders.refunded_amount,
        orders.net_amount,
        orders.financial_status,
        orders.is_refunded,
        orders.is_cancelled,
        orders.cancelled_at,
        orders.refund_known_at,
        orders.has_discount,
        orders.discount_codes,
        coalesce(item_totals.item_count, 0) as item_count,
        coalesce(item_totals.item_quantity, 0) as item_quantity,
        coalesce(item_totals.category_count, 0) as category_count,
        -- 1 for a customer's first order; every order counts, refunded ones included
        case
            when orders.customer_id is not null
                then row_number() over (
                    partition by orders.customer_id order by orders.ordered_at, orders.order_id
                )
        end as customer_order_number,
        case
            when orders.customer_id is not null
                then date_diff(
                    'second',
                    lag(orders.ordered_at) over (
                        partition by orders.customer_id
                        order by orders.ordered_at, orders.order_id
                    ),
                    orders.ordered_at
                ) / 86400.0
        end as days_since_previous_order
    from orders
    left join item_totals on orders.order_id = item_totals.order_id

),

final as (

    select
        *,
        coalesce(customer_order_number = 1, false) as is_first_order
    from sequenced

)

select * from final
