{#-
    Grain: one row per (customer_id, activity_date) with email activity: running totals of
    sends, opens, clicks and unsubscribes (spam complaints count as unsubscribes) up to and
    including the day, and the hour of day (UTC) with most opens so far, for ASOF lookups by
    the features.
-#}
with

events as (

    select
        *,
        cast(greatest(occurred_at, attributed_at) as date) as activity_date
    from {{ ref('email_events') }}

),

daily as (

    select
        customer_id,
        activity_date,
        count(*) filter (where event_type = 'received') as received,
        count(*) filter (where event_type = 'opened') as opened,
        count(*) filter (where event_type = 'clicked') as clicked,
        count(*) filter (where event_type in ('unsubscribed', 'spam')) as unsubscribed,
        max(occurred_at) filter (where event_type = 'opened') as last_opened_at,
        max(occurred_at) filter (where event_type = 'clicked') as last_clicked_at
    from events
    group by customer_id, activity_date

),

-- Opens per hour of day so far, on each day the hour had one.
hour_opens as (

    select
        customer_id,
        activity_date,
        open_hour,
        sum(count(*)) over (
            partition by customer_id, open_hour order by activity_date
        ) as cumulative_opens
    from (
        select
            customer_id,
            activity_date,
            cast(hour(occurred_at) as integer) as open_hour
        from events
        where event_type = 'opened'
    ) as opens
    group by customer_id, activity_date, open_hour

),

-- The hour with most opens so far, the earliest on a tie. Counts only grow, so the leader as of
-- a day is the smallest (-count, hour) any hour reached by then: one running minimum instead
-- of a running count for each of the 24 hours.
preferred_hours as (

    select
        customer_id,
        activity_date,
        min({ 'opens': -cumulative_opens, 'hour': open_hour }) as day_leader
    from hour_opens
    group by customer_id, activity_date

),

final as (

    select
        daily.customer_id,
        daily.activity_date,
        max(daily.last_opened_at) over customer_history as last_opened_at,
        max(daily.last_clicked_at) over customer_history as last_clicked_at,
        sum(daily.received) over customer_history as cumulative_received,
        sum(daily.opened) over customer_history as cumulative_opened,
        sum(daily.clicked) over customer_history as cumulative_clicked,
        sum(daily.unsubscribed) over customer_history as cumulative_unsubscribed,
        struct_extract(min(preferred_hours.day_leader) over customer_history, 'hour')
            as preferred_open_hour
    from daily
    left join preferred_hours
        on
            daily.customer_id = preferred_hours.customer_id
            and daily.activity_date = preferred_hours.activity_date
    window customer_history as (
        partition by daily.customer_id order by daily.activity_date rows unbounded preceding
    )

)

select * from final
