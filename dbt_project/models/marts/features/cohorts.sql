{#-
    Grain: one row per (cohort_month, months_since_first_order): customers acquired (first
    order) in a calendar month, followed month by month up to the as-of date — how many still
    order (retention), what they spend (revenue, AOV) and cumulative revenue per acquired
    customer. The as-of month is partial (`is_complete_month` false).
-#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

orders as (

    select
        orders.customer_id,
        orders.ordered_at,
        cast(orders.net_amount as decimal(18, 2)) as net_amount
    from {{ ref('orders') }} as orders
    cross join as_of
    where
        orders.customer_id is not null
        and not orders.is_cancelled
        and orders.ordered_at < as_of.as_of_date

),

first_orders as (

    select
        customer_id,
        cast(date_trunc('month', min(ordered_at)) as date) as cohort_month
    from orders
    group by customer_id

),

cohort_sizes as (

    select
        cohort_month,
        count(*) as cohort_customers
    from first_orders
    group by cohort_month

),

-- every month from each cohort's first to the as-of month, so months without orders show 0
cohort_months as (

    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_customers,
        cast(unnest(generate_series(
            cohort_sizes.cohort_month,
            date_trunc('month', as_of.as_of_date - 1),
            interval 1 month
        )) as date) as activity_month
    from cohort_sizes
    cross join as_of

),

monthly as (

    select
        first_orders.cohort_month,
        cast(date_trunc('month', orders.ordered_at) as date) as activity_month,
        count(distinct orders.customer_id) as active_customers,
        count(*) as orders,
        sum(orders.net_amount) as revenue
    from orders
    inner join first_orders on orders.customer_id = first_orders.customer_id
    group by first_orders.cohort_month, cast(date_trunc('month', orders.ordered_at) as date)

),

final as (

    select
        cohort_months.cohort_month,
        cast(
            date_diff('month', cohort_months.cohort_month, cohort_months.activity_month) as integer
        )
            as months_since_first_order,
        cohort_months.activity_month,
        cohort_months.cohort_customers,
        coalesce(monthly.active_customers, 0) as active_customers,
        coalesce(monthly.active_customers, 0) / cohort_months.cohort_customers as retention_rate,
        coalesce(monthly.orders, 0) as orders,
        round(coalesce(monthly.revenue, 0), 2) as revenue,
        round(monthly.revenue / nullif(monthly.orders, 0), 2) as avg_order_value,
        round(
            sum(coalesce(monthly.revenue, 0)) over (
                partition by cohort_months.cohort_month order by cohort_months.activity_month
            ) / cohort_months.cohort_customers,
            2
        ) as cumulative_revenue_per_customer,
        cohort_months.activity_month + interval 1 month <= (select as_of.as_of_date from as_of)
            as is_complete_month
    from cohort_months
    left join monthly
        on
            cohort_months.cohort_month = monthly.cohort_month
            and cohort_months.activity_month = monthly.activity_month

)

select * from final
