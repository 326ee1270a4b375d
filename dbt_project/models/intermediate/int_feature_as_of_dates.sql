{#-
    Grain: one row per as-of date the point-in-time features keep (`feature_as_of_date_kept`),
    from the day after the first customer was seen to where the data ends, with the number of
    customers known before it: the rows `customer_features` holds for that date. The feature step
    reads it to build a long window of dates in batches of bounded size.
-#}
with

identities as (

    select * from {{ ref('int_customer_identities') }}

),

data_end as (

    select as_of_date as data_as_of from {{ ref('int_as_of_date') }}

),

-- first known: when the earliest identity that names the person appeared (as the features)
customers as (

    select
        customer_id,
        min(linked_at) as first_seen_at
    from identities
    group by customer_id

),

first_seen_days as (

    select
        cast(first_seen_at as date) as first_seen_date,
        count(*) as customers
    from customers
    group by cast(first_seen_at as date)

),

known_by_day as (

    select
        first_seen_date,
        sum(customers) over (order by first_seen_date) as customers_known
    from first_seen_days

),

candidate_dates as (

    select
        data_end.data_as_of,
        cast(unnest(generate_series(
            (select min(first_seen_days.first_seen_date) from first_seen_days) + 1,
            data_end.data_as_of,
            interval 1 day
        )) as date) as as_of_date
    from data_end

),

final as (

    select
        candidate_dates.as_of_date,
        cast(known_by_day.customers_known as bigint) as customers_known
    from candidate_dates
    -- known before the date: first seen on an earlier day
    asof inner join known_by_day
        on candidate_dates.as_of_date > known_by_day.first_seen_date
    where {{ feature_as_of_date_kept('candidate_dates.as_of_date', 'candidate_dates.data_as_of') }}

)

select * from final
