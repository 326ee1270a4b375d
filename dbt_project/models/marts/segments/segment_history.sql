{#-
    Entries into and exits from segments, kept across runs: each run compares today's members
    with the open memberships recorded so far and writes only the difference (new entries, and
    exits of open rows). A re-run on the same as-of date finds no difference; a run as of a date
    earlier than the latest one recorded writes nothing (history is only ever extended forwards).
    `full_refresh: false`: `dbt build --full-refresh` must not wipe the history.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['customer_id', 'segment', 'entered_at'],
    full_refresh=false,
    on_schema_change='fail',
) }}

with

members as (

    select * from {{ ref('int_segment_memberships') }}

),

run_date as (

    select max(as_of_date) as as_of_date from {{ ref('customers') }}

),

{% if is_incremental() %}

    previous as (

        select * from {{ this }}

    ),

    recorded as (

        select max(coalesce(exited_at, entered_at)) as recorded_through from previous

    ),

    open_memberships as (

        select * from previous
        where exited_at is null

    ),

    -- Memberships closed earlier on this same date: a re-run that finds the person back
    -- re-opens that row instead of starting a second one.
    closed_today as (

        select previous.*
        from previous
        inner join run_date on previous.exited_at = run_date.as_of_date

    ),

    entries as (

        select
            members.customer_id,
            members.segment,
            members.segment_family,
            coalesce(closed_today.entered_at, run_date.as_of_date) as entered_at,
            cast(null as date) as exited_at
        from members
        cross join run_date
        left join closed_today
            on
                members.customer_id = closed_today.customer_id
                and members.segment = closed_today.segment
        -- not exists rather than "left join ... where key is null": DuckDB 2.0 can drop rows
        -- from the latter when an input is constant (as in dbt unit test fixtures)
        where not exists (
            select 1
            from open_memberships
            where
                open_memberships.customer_id = members.customer_id
                and open_memberships.segment = members.segment
        )

    ),

    exits as (

        select
            open_memberships.customer_id,
            open_memberships.segment,
            open_memberships.segment_family,
            open_memberships.entered_at,
            run_date.as_of_date as exited_at
        from open_memberships
        cross join run_date
        where not exists (
            select 1
            from members
            where
                members.customer_id = open_memberships.customer_id
                and members.segment = open_memberships.segment
        )

    ),

    changes as (

        select * from entries
        union all
        select * from exits

    ),

    final as (

        select changes.*
        from changes
        cross join run_date
        cross join recorded
        where run_date.as_of_date >= coalesce(recorded.recorded_through, run_date.as_of_date)

    )

{% else %}

    final as (

        select
            members.customer_id,
            members.segment,
            members.segment_family,
            run_date.as_of_date as entered_at,
            cast(null as date) as exited_at
        from members
        cross join run_date

    )

{% endif %}

select * from final
