{#-
    Grain: one row per (customer_id, activity_date) with email activity: that day's sends,
    opens, clicks and unsubscribes (spam complaints count as unsubscribes), opens by hour of day
    (UTC), with running totals up to and including the day, for ASOF lookups by the features.
-#}
with

events as (

    select * from {{ ref('email_events') }}

),

daily as (

    select
        customer_id,
        cast(occurred_at as date) as activity_date,
        count(*) filter (where event_type = 'received') as received,
        count(*) filter (where event_type = 'opened') as opened,
        count(*) filter (where event_type = 'clicked') as clicked,
        count(*) filter (where event_type in ('unsubscribed', 'spam')) as unsubscribed,
        max(occurred_at) filter (where event_type = 'opened') as last_opened_at,
        {% for hour in range(24) -%}
            count(*) filter (
                where event_type = 'opened' and hour(occurred_at) = {{ hour }}
            ) as opened_hour_{{ hour }},
        {% endfor -%}
        max(occurred_at) filter (where event_type = 'clicked') as last_clicked_at
    from events
    group by customer_id, cast(occurred_at as date)

),

final as (

    select
        customer_id,
        activity_date,
        max(last_opened_at) over customer_history as last_opened_at,
        max(last_clicked_at) over customer_history as last_clicked_at,
        sum(received) over customer_history as cumulative_received,
        sum(opened) over customer_history as cumulative_opened,
        sum(clicked) over customer_history as cumulative_clicked,
        sum(unsubscribed) over customer_history as cumulative_unsubscribed,
        [
            {% for hour in range(24) -%}
                sum(opened_hour_{{ hour }}) over customer_history{{ ',' if not loop.last }}
            {% endfor %}
        ] as cumulative_opened_by_hour
    from daily
    window customer_history as (
        partition by customer_id order by activity_date rows unbounded preceding
    )

)

select * from final
