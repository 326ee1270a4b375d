{#-
    Email performance of each segment over each look-back window: what was sent to its treated
    (non-holdout) members while they were members, how they responded, and the orders that
    followed an email within `kpi_conversion_days` days.
-#}
{%- set conversion_days = var('kpi_conversion_days') -%}

with

window_memberships as (

    select * from {{ ref('int_segment_window_memberships') }}

),

current_members as (

    select * from {{ ref('customer_segments') }}

),

as_of as (

    select max(as_of_date) as as_of_date from {{ ref('customers') }}

),

-- The fixed-name segments, and the category lover segments (named after the shop's own
-- categories) that have or had members.
core_segments as (

    select
        unnest([
            {%- for name in segment_names() %}
                '{{ name }}'{{ "," if not loop.last }}
            {%- endfor %}
        ]) as segment
    union
    select segment from window_memberships
    where {{ is_lover_segment('segment') }}
    union
    select segment from current_members
    where {{ is_lover_segment('segment') }}

),

windows as (

    select unnest([{{ var('kpi_windows_days') | join(', ') }}]) as window_days

),

-- Every core segment and window, so an empty segment reports zeros instead of vanishing.
spine as (

    select
        core_segments.segment,
        windows.window_days,
        as_of.as_of_date,
        as_of.as_of_date - windows.window_days as window_start
    from core_segments
    cross join windows
    cross join as_of

),

member_counts as (

    select
        segment,
        count(*) as members,
        count(*) filter (where is_holdout) as holdout_members
    from current_members
    group by segment

),

-- Email events of treated members while they were members, inside the window.
member_emails as (

    select
        window_memberships.segment,
        window_memberships.window_days,
        email_events.customer_id,
        email_events.event_type,
        email_events.occurred_at,
        email_events.customer_id || ':' || coalesce(
            email_events.message_id, email_events.email_event_id
        ) as delivery_key
    from window_memberships
    inner join {{ ref('email_events') }} as email_events
        on
            window_memberships.customer_id = email_events.customer_id
            and window_memberships.exposed_from <= email_events.occurred_at
            and window_memberships.exposed_until > email_events.occurred_at
    where not window_memberships.is_holdout

),

email_totals as (

    select
        segment,
        window_days,
        count(*) filter (where event_type = 'received') as email_sends,
        count(distinct customer_id) filter (where event_type = 'received') as recipients,
        count(distinct delivery_key) filter (where event_type = 'opened') as unique_opens,
        count(distinct delivery_key) filter (where event_type = 'clicked') as unique_clicks,
        count(*) filter (where event_type = 'unsubscribed') as unsubscribes,
        count(*) filter (where event_type = 'bounced') as bounces
    from member_emails
    group by segment, window_days

),

-- An order converts when it follows an email the person received as a member within
-- `kpi_conversion_days` days; counted once however many emails preceded it.
converted_orders as (

    select distinct
        member_emails.segment,
        member_emails.window_days,
        orders.customer_id,
        orders.order_id,
        orders.net_amount
    from member_emails
    cross join as_of
    inner join {{ ref('orders') }} as orders
        on
            member_emails.customer_id = orders.customer_id
            and member_emails.occurred_at < orders.ordered_at
            and member_emails.occurred_at + to_days({{ conversion_days }}) > orders.ordered_at
    where
        member_emails.event_type = 'received'
        and not orders.is_cancelled
        and orders.ordered_at < as_of.as_of_date

),

conversion_totals as (

    select
        segment,
        window_days,
        count(distinct customer_id) as converted_recipients,
        count(*) as converted_orders,
        sum(net_amount) as converted_revenue
    from converted_orders
    group by segment, window_days

),

final as (

    select
        spine.segment,
        spine.window_days,
        spine.window_start,
        spine.as_of_date,
        coalesce(member_counts.members, 0) as members,
        coalesce(member_counts.holdout_members, 0) as holdout_members,
        coalesce(email_totals.email_sends, 0) as email_sends,
        coalesce(email_totals.recipients, 0) as recipients,
        round(email_totals.unique_opens / nullif(email_totals.email_sends, 0), 6) as open_rate,
        round(email_totals.unique_clicks / nullif(email_totals.email_sends, 0), 6) as click_rate,
        coalesce(conversion_totals.converted_recipients, 0) as converted_recipients,
        round(
            coalesce(conversion_totals.converted_recipients, 0)
            / nullif(email_totals.recipients, 0),
            6
        ) as conversion_rate,
        coalesce(conversion_totals.converted_revenue, 0) as converted_revenue,
        round(
            coalesce(conversion_totals.converted_revenue, 0) / nullif(email_totals.recipients, 0),
            6
        ) as revenue_per_recipient,
        round(email_totals.unsubscribes / nullif(email_totals.email_sends, 0), 6)
            as unsubscribe_rate,
        round(email_totals.bounces / nullif(email_totals.email_sends, 0), 6) as bounce_rate
    from spine
    left join member_counts on spine.segment = member_counts.segment
    left join email_totals
        on spine.segment = email_totals.segment and spine.window_days = email_totals.window_days
    left join conversion_totals
        on
            spine.segment = conversion_totals.segment
            and spine.window_days = conversion_totals.window_days

)

select * from final
