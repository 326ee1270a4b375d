{#-
    Grain: one row per (customer_id, activity_date) on which something about the customer's
    orders became known: an order placed, a refund known, an order cancelled. Each row carries
    that day's changes and running totals up to and including the day, so a feature as of D
    reads the totals of the customer's last activity day before D with one ASOF lookup instead
    of a scan of their history.
-#}

with

orders as (

    select * from {{ ref('orders') }}
    where customer_id is not null

),

order_quantities as (

    select
        order_id,
        coalesce(sum(quantity), 0) as quantity_total
    from {{ ref('order_items') }}
    group by order_id

),

-- An order counts from when it was placed until it is cancelled; a refund lowers revenue from
-- when it is known; nothing counts before it was attributable to the customer (an identity
-- linked later brings its history in from the day of the link). Refunds on cancelled orders
-- are ignored: the cancellation removes the whole order. Money stays decimal: float sums
-- depend on row order, and a rebuild must give the same cents.
changes as (

    select
        orders.customer_id,
        greatest(orders.ordered_at, orders.attributed_at) as changed_at,
        orders.ordered_at as placed_at,
        1 as placed_orders,
        1 as orders,
        cast(orders.total_amount as decimal(18, 2)) as revenue,
        cast(orders.has_discount as integer) as discounted_orders,
        0 as refunded_orders,
        coalesce(orders.days_since_previous_order, 0) as gap_days,
        power(coalesce(orders.days_since_previous_order, 0), 2) as gap_days_squared,
        cast(orders.days_since_previous_order is not null as integer) as gaps,
        coalesce(order_quantities.quantity_total, 0) as quantity_total
    from orders
    left join order_quantities on orders.order_id = order_quantities.order_id

    union all

    select
        customer_id,
        greatest(refund_known_at, attributed_at) as changed_at,
        null as placed_at,
        0 as placed_orders,
        0 as orders,
        -cast(refunded_amount as decimal(18, 2)) as revenue,
        0 as discounted_orders,
        1 as refunded_orders,
        0 as gap_days,
        0 as gap_days_squared,
        0 as gaps,
        0 as quantity_total
    from orders
    where refund_known_at is not null and not is_cancelled

    union all

    select
        orders.customer_id,
        greatest(orders.cancelled_at, orders.attributed_at) as changed_at,
        null as placed_at,
        0 as placed_orders,
        -1 as orders,
        -cast(orders.total_amount as decimal(18, 2)) as revenue,
        -cast(orders.has_discount as integer) as discounted_orders,
        0 as refunded_orders,
        0 as gap_days,
        0 as gap_days_squared,
        0 as gaps,
        -coalesce(order_quantities.quantity_total, 0) as quantity_total
    from orders
    left join order_quantities on orders.order_id = order_quantities.order_id
    where orders.cancelled_at is not null

),

{%- set summed = ['placed_orders', 'orders', 'revenue', 'discounted_orders', 'refunded_orders',
                  'gap_days', 'gap_days_squared', 'gaps', 'quantity_total'] %}

daily as (

    select
        customer_id,
        cast(changed_at as date) as activity_date,
        {% for column in summed -%}
            sum({{ column }}) as {{ column }},
        {% endfor -%}
        max(placed_at) as last_placed_at
    from changes
    group by customer_id, cast(changed_at as date)

),

final as (

    select
        customer_id,
        activity_date,
        {% for column in summed -%}
            sum({{ column }}) over customer_history as cumulative_{{ column }},
        {% endfor -%}
        max(last_placed_at) over customer_history as last_placed_at
    from daily
    window customer_history as (
        partition by customer_id order by activity_date rows unbounded preceding
    )

)

select * from final
