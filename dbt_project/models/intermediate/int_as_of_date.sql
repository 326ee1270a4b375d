{#-
    The as-of date for recency and lifecycle: marts use only records with timestamps before it,
    so a rebuild gives the same answer whatever the wall clock says (never `current_date`).
    `--vars '{as_of_date: 2025-06-01}'` pins it; by default it is the day after the latest order
    or event seen, i.e. the first day not fully observed.
-#}
{%- set pinned = var('as_of_date', none) -%}

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
first_unseen as (

    select cast(max(seen_at) as date) + 1 as first_unseen_date
    from latest

),

final as (

    select
        {% if pinned is not none -%}
            cast('{{ pinned }}' as date)
        {%- else -%}
            first_unseen_date
        {%- endif %} as as_of_date
    from first_unseen

)

select * from final
