{#-
    The as-of date for recency and lifecycle: marts use only records with timestamps before it,
    so a rebuild gives the same answer whatever the wall clock says (never `current_date`).
    `--vars '{as_of_date: 2025-06-01}'` pins it; by default it is the day after the latest order
    or event seen, i.e. the first day not fully observed.
-#}
{%- set pinned = var('as_of_date', none) -%}

with

-- exactly one row (see `int_latest_seen_at`)
first_unseen as (

    select cast(seen_at as date) + 1 as first_unseen_date
    from {{ ref('int_latest_seen_at') }}

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
