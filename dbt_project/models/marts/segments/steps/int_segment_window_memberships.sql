{#-
    Segment memberships seen through each measurement window: for every window length in
    `kpi_windows_days`, each membership from `segment_history` that overlapped the window
    [as_of_date - window_days, as_of_date), clipped to it, with its holdout flag. Events and
    orders count for a segment only while the person was a member (from `exposed_from`, before
    `exposed_until`).
-#}

with

as_of as (

    select max(as_of_date) as as_of_date from {{ ref('customers') }}

),

windows as (

    select unnest([{{ var('kpi_windows_days') | join(', ') }}]) as window_days

),

history as (

    select * from {{ ref('segment_history') }}

),

final as (

    select
        history.segment,
        history.segment_family,
        history.customer_id,
        history.entered_at,
        windows.window_days,
        as_of.as_of_date,
        as_of.as_of_date - windows.window_days as window_start,
        greatest(history.entered_at, as_of.as_of_date - windows.window_days) as exposed_from,
        least(coalesce(history.exited_at, as_of.as_of_date), as_of.as_of_date) as exposed_until,
        {{ segment_holdout('history.segment', 'history.customer_id') }} as is_holdout
    from history
    cross join windows
    cross join as_of
    where
        history.entered_at < as_of.as_of_date
        and coalesce(history.exited_at, as_of.as_of_date)
        > as_of.as_of_date - windows.window_days

)

select * from final
