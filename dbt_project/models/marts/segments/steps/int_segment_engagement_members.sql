{#-
    Engagement segment rule (inactive subscribers): subscribed people who received emails in
    the recent window but opened none, as of the customers mart's as-of date. Documented on
    `customer_segments`.
-#}
{%- set inactive_days = var('segment_inactive_days') -%}

with

customers as (

    select * from {{ ref('customers') }}

),

as_of as (

    select max(as_of_date) as as_of_date from customers

),

recent_email as (

    select
        email_events.customer_id,
        count(*) filter (where email_events.event_type = 'received') as received,
        count(*) filter (where email_events.event_type = 'opened') as opened
    from {{ ref('email_events') }} as email_events
    cross join as_of
    where
        email_events.occurred_at >= as_of.as_of_date - {{ inactive_days }}
        and email_events.occurred_at < as_of.as_of_date
    group by email_events.customer_id

),

final as (

    select
        customers.customer_id,
        'inactive_subscribers' as segment
    from customers
    inner join recent_email on customers.customer_id = recent_email.customer_id
    where
        customers.email_consent = 'subscribed'
        and recent_email.received >= {{ var('segment_inactive_min_received') }}
        and recent_email.opened = 0

)

select * from final
