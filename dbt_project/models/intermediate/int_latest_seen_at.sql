{#-
    Grain: one row, the latest timestamp among orders, Klaviyo events and Mailchimp activity:
    where the data ends. A table, read by `int_as_of_date`, which every dated mart inlines.
-#}
with

orders as (

    select * from {{ ref('int_orders') }}

),

events as (

    select * from {{ ref('stg_klaviyo__events') }}

),

mailchimp_activity as (

    select * from {{ ref('stg_mailchimp__email_activity') }}

),

latest as (

    select max(ordered_at) as seen_at from orders
    union all
    select max(occurred_at) as seen_at from events
    union all
    select max(occurred_at) as seen_at from mailchimp_activity

),

-- exactly one row: an aggregate without group by
final as (

    select max(seen_at) as seen_at
    from latest

)

select * from final
