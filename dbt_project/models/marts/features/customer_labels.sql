{#-
    Grain: one row per (customer_id, as_of_date) of `customer_features` whose shortest label
    window [as_of_date, as_of_date + shortest horizon) is fully observed, i.e. ends on or before
    the data's as-of date. What the customer did next: orders and net revenue within each
    horizon (var `label_horizons_days`; null while that window is not fully observed), the
    churn flag, days to the next order and its main category. Rebuilt in full each run: labels
    fill in as the future is observed.
-#}
{%- set horizons = var('label_horizons_days') | sort -%}
{%- set churn_days = var('churn_horizon_days') -%}

with

data_end as (

    select as_of_date as data_as_of from {{ ref('int_as_of_date') }}

),

features as (

    select
        features.customer_id,
        features.as_of_date,
        features.has_ordered,
        date_diff('day', features.as_of_date, data_end.data_as_of) as observed_days
    from {{ ref('customer_features') }} as features
    cross join data_end
    where features.as_of_date + {{ horizons[0] }} <= data_end.data_as_of

),

orders as (

    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at,
        cast(orders.net_amount as decimal(18, 2)) as net_amount
    from {{ ref('orders') }} as orders
    cross join data_end
    where
        orders.customer_id is not null
        and not orders.is_cancelled
        and orders.ordered_at < data_end.data_as_of

),

order_main_category as (

    select
        order_id,
        first(category order by quantity desc, category asc) as category
    from (
        select
            order_id,
            category,
            sum(quantity) as quantity
        from {{ ref('order_items') }}
        where category is not null
        group by order_id, category
    )
    group by order_id

),

future_orders as (

    select
        features.customer_id,
        features.as_of_date,
        {% for horizon in horizons -%}
            count(orders.order_id) filter (
                where orders.ordered_at < features.as_of_date + {{ horizon }}
            ) as orders_next_{{ horizon }}d,
            coalesce(sum(orders.net_amount) filter (
                where orders.ordered_at < features.as_of_date + {{ horizon }}
            ), 0) as revenue_next_{{ horizon }}d,
        {% endfor -%}
        count(orders.order_id) filter (
            where orders.ordered_at < features.as_of_date + {{ churn_days }}
        ) as orders_next_churn_horizon,
        min(orders.ordered_at) as next_ordered_at,
        first(orders.order_id order by orders.ordered_at, orders.order_id) as next_order_id
    from features
    left join orders
        on
            features.customer_id = orders.customer_id
            and features.as_of_date <= orders.ordered_at
    group by features.customer_id, features.as_of_date

),

final as (

    select
        features.customer_id,
        features.as_of_date,
        cast(features.observed_days as integer) as observed_days,
        {% for horizon in horizons -%}
            case
                when features.observed_days >= {{ horizon }}
                    then cast(future_orders.orders_next_{{ horizon }}d as integer)
            end as orders_next_{{ horizon }}d,
            case
                when features.observed_days >= {{ horizon }}
                    then cast(future_orders.revenue_next_{{ horizon }}d as double)
            end as revenue_next_{{ horizon }}d,
        {% endfor -%}
        case
            when features.has_ordered and features.observed_days >= {{ churn_days }}
                then future_orders.orders_next_churn_horizon = 0
        end as is_churned,
        date_diff('second', features.as_of_date, future_orders.next_ordered_at) / 86400.0
            as days_to_next_order,
        case
            when future_orders.next_ordered_at < features.as_of_date + {{ horizons[-1] }}
                then order_main_category.category
        end as next_order_category
    from features
    inner join future_orders
        on
            features.customer_id = future_orders.customer_id
            and features.as_of_date = future_orders.as_of_date
    left join order_main_category on future_orders.next_order_id = order_main_category.order_id

)

select * from final
