{#-
    Did targeting a segment work? Members of each segment whose membership overlapped the
    window, split into treated and holdout (never synced), compared on whether they ordered
    while members and on the net revenue of those orders. Intention to treat: treated counts
    every non-holdout member, reachable by email or not, so the comparison stays unbiased
    (the holdout is drawn at random from the same members).
    Intervals are normal approximations: the difference of two proportions for conversion,
    Welch's difference of means for revenue per member.
-#}
{%- set z = var('kpi_ci_z') -%}

with

window_memberships as (

    select * from {{ ref('int_segment_window_memberships') }}

),

orders as (

    select * from {{ ref('orders') }}
    where not is_cancelled

),

-- One row per person, segment and window; a person who left and re-entered within the window
-- counts once, with the orders of all their membership spells.
member_outcomes as (

    select
        window_memberships.segment,
        window_memberships.window_days,
        window_memberships.customer_id,
        window_memberships.is_holdout,
        count(orders.order_id) > 0 as converted,
        coalesce(sum(orders.net_amount), 0) as revenue
    from window_memberships
    left join orders
        on
            window_memberships.customer_id = orders.customer_id
            and window_memberships.exposed_from <= orders.ordered_at
            and window_memberships.exposed_until > orders.ordered_at
    group by
        window_memberships.segment,
        window_memberships.window_days,
        window_memberships.customer_id,
        window_memberships.is_holdout

),

arms as (

    select
        segment,
        window_days,
        count(*) filter (where not is_holdout) as treated_members,
        count(*) filter (where is_holdout) as holdout_members,
        avg(cast(converted as integer)) filter (where not is_holdout) as treated_conversion_rate,
        avg(cast(converted as integer)) filter (where is_holdout) as holdout_conversion_rate,
        avg(revenue) filter (where not is_holdout) as treated_revenue_per_member,
        avg(revenue) filter (where is_holdout) as holdout_revenue_per_member,
        var_samp(revenue) filter (where not is_holdout) as treated_revenue_variance,
        var_samp(revenue) filter (where is_holdout) as holdout_revenue_variance
    from member_outcomes
    group by segment, window_days

),

differences as (

    select
        *,
        treated_conversion_rate - holdout_conversion_rate as conversion_lift,
        -- No interval from a single member per arm (as for the revenue variance below).
        case
            when treated_members >= 2 and holdout_members >= 2
                then sqrt(
                    treated_conversion_rate * (1 - treated_conversion_rate) / treated_members
                    + holdout_conversion_rate * (1 - holdout_conversion_rate) / holdout_members
                )
        end as conversion_lift_se,
        treated_revenue_per_member - holdout_revenue_per_member as revenue_per_member_lift,
        sqrt(
            treated_revenue_variance / treated_members
            + holdout_revenue_variance / holdout_members
        ) as revenue_per_member_lift_se
    from arms

),

final as (

    select
        segment,
        window_days,
        treated_members,
        holdout_members,
        round(treated_conversion_rate, 6) as treated_conversion_rate,
        round(holdout_conversion_rate, 6) as holdout_conversion_rate,
        round(conversion_lift, 6) as conversion_lift,
        round(conversion_lift - {{ z }} * conversion_lift_se, 6) as conversion_lift_ci_low,
        round(conversion_lift + {{ z }} * conversion_lift_se, 6) as conversion_lift_ci_high,
        round(treated_revenue_per_member, 6) as treated_revenue_per_member,
        round(holdout_revenue_per_member, 6) as holdout_revenue_per_member,
        round(revenue_per_member_lift, 6) as revenue_per_member_lift,
        round(revenue_per_member_lift - {{ z }} * revenue_per_member_lift_se, 6)
            as revenue_per_member_lift_ci_low,
        round(revenue_per_member_lift + {{ z }} * revenue_per_member_lift_se, 6)
            as revenue_per_member_lift_ci_high,
        -- The interval excludes zero: the conversion difference is unlikely to be chance.
        coalesce(
            conversion_lift - {{ z }} * conversion_lift_se > 0
            or conversion_lift + {{ z }} * conversion_lift_se < 0,
            false
        ) as is_conversion_lift_significant
    from differences

)

select * from final
