{#-
    The segment rules: who is in which segment of the core set as of the customers mart's
    as-of date. Each rule is documented, with its intended action, on `customer_segments` in
    models/marts/segments/_segments__models.yml; every threshold is a `segment_*` var.
    Score-based segments use the latest scoring run at or before the as-of date and are empty
    until the ML stage has scored once.
-#}
{%- set score_columns = {
    'customer_id': 'varchar',
    'as_of_date': 'date',
    'churn_probability': 'double',
    'purchase_probability': 'double',
    'cltv_predicted': 'double',
    'cltv_p10': 'double',
    'cltv_p90': 'double',
    'churn_tier': 'varchar',
    'purchase_tier': 'varchar',
    'cltv_tier': 'varchar',
    'next_best_category': 'varchar',
    'expected_next_order_date': 'date',
    'churn_reasons': 'varchar[]',
    'purchase_reasons': 'varchar[]',
    'cltv_reasons': 'varchar[]',
    'model_version': 'varchar',
    'score_source': 'varchar',
    'scored_at': 'timestamp',
} -%}
{%- set churn_high = var('segment_churn_high_min_probability', 0.60) -%}
{%- set churn_medium = var('segment_churn_medium_min_probability', 0.30) -%}
{%- set purchase_high = var('segment_purchase_high_min_probability', 0.40) -%}
{%- set purchase_medium = var('segment_purchase_medium_min_probability', 0.15) -%}
{%- set abandon_days = var('segment_abandon_days', 7) -%}
{%- set inactive_days = var('segment_inactive_days', 90) -%}

with

customers as (

    select * from {{ ref('customers') }}

),

as_of as (

    select max(as_of_date) as as_of_date from customers

),

all_scores as (

    select * from {{ optional_source('ml', 'customer_scores', score_columns) }}

),

scoring_run as (

    select max(all_scores.as_of_date) as scored_as_of
    from all_scores
    cross join as_of
    where all_scores.as_of_date <= as_of.as_of_date

),

-- inner join: scores of people no longer in the warehouse (erased) make no member
scores as (

    select
        all_scores.*,
        customers.lifetime_orders
    from all_scores
    inner join scoring_run on all_scores.as_of_date = scoring_run.scored_as_of
    inner join customers on all_scores.customer_id = customers.customer_id

),

-- Share of scored customers with a CLTV at least as high: 0.05 = in the top 5%.
cltv_ranks as (

    select
        customer_id,
        cume_dist() over (order by cltv_predicted desc) as cltv_top_share
    from scores
    where cltv_predicted is not null

),

score_segments as (

    select
        scores.customer_id,
        'vip' as segment
    from scores
    inner join cltv_ranks on scores.customer_id = cltv_ranks.customer_id
    where
        cltv_ranks.cltv_top_share <= {{ var('segment_vip_top_share', 0.05) }}
        and scores.lifetime_orders >= {{ var('segment_vip_min_orders', 1) }}

    union all

    select
        scores.customer_id,
        'high_value_at_risk' as segment
    from scores
    inner join cltv_ranks on scores.customer_id = cltv_ranks.customer_id
    where
        cltv_ranks.cltv_top_share <= {{ var('segment_high_value_top_share', 0.20) }}
        and scores.churn_probability >= {{ churn_high }}

    union all

    select
        customer_id,
        case
            when churn_probability >= {{ churn_high }} then 'churn_risk_high'
            when churn_probability >= {{ churn_medium }} then 'churn_risk_medium'
            else 'churn_risk_low'
        end as segment
    from scores
    where churn_probability is not null

    union all

    select
        customer_id,
        case
            when purchase_probability >= {{ purchase_high }} then 'purchase_propensity_high'
            when purchase_probability >= {{ purchase_medium }} then 'purchase_propensity_medium'
            else 'purchase_propensity_low'
        end as segment
    from scores
    where purchase_probability is not null

    union all

    select
        scores.customer_id,
        'replenishment_due' as segment
    from scores
    cross join as_of
    where
        scores.expected_next_order_date
        >= as_of.as_of_date - {{ var('segment_replenishment_overdue_days', 7) }}
        and scores.expected_next_order_date
        < as_of.as_of_date + {{ var('segment_replenishment_days', 14) }}

),

lifecycle_segments as (

    select
        customer_id,
        'new_customers' as segment
    from customers
    where days_since_first_order < {{ var('segment_new_customer_days', 30) }}

    union all

    select
        customer_id,
        'active' as segment
    from customers
    where days_since_last_order < {{ var('segment_active_days', 90) }}

    union all

    select
        customer_id,
        'lapsed_win_back' as segment
    from customers
    where
        days_since_last_order >= {{ var('segment_lapsed_min_days', 180) }}
        and days_since_last_order < {{ var('segment_lapsed_max_days', 730) }}

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

engagement_segments as (

    select
        customers.customer_id,
        'inactive_subscribers' as segment
    from customers
    inner join recent_email on customers.customer_id = recent_email.customer_id
    where
        customers.email_consent = 'subscribed'
        and recent_email.received >= {{ var('segment_inactive_min_received', 3) }}
        and recent_email.opened = 0

),

recent_intent as (

    select
        site_events.customer_id,
        max(site_events.occurred_at) filter (
            where site_events.event_type = 'added_to_cart'
        ) as last_cart_at,
        max(site_events.occurred_at) filter (
            where site_events.event_type in ('started_checkout', 'abandoned_checkout')
        ) as last_checkout_at
    from {{ ref('site_events') }} as site_events
    cross join as_of
    where
        site_events.occurred_at >= as_of.as_of_date - {{ abandon_days }}
        and site_events.occurred_at < as_of.as_of_date
    group by site_events.customer_id

),

-- "No order since": customers.last_order_at is the latest order before the as-of date.
abandoners as (

    select
        recent_intent.customer_id,
        coalesce(
            recent_intent.last_checkout_at > customers.last_order_at
            or customers.last_order_at is null and recent_intent.last_checkout_at is not null,
            false
        ) as abandoned_checkout,
        coalesce(
            recent_intent.last_cart_at > customers.last_order_at
            or customers.last_order_at is null and recent_intent.last_cart_at is not null,
            false
        ) as abandoned_cart
    from recent_intent
    inner join customers on recent_intent.customer_id = customers.customer_id

),

-- One abandonment flow per person: a checkout abandoner is not also a cart abandoner.
intent_segments as (

    select
        customer_id,
        'checkout_abandoners' as segment
    from abandoners
    where abandoned_checkout

    union all

    select
        customer_id,
        'cart_abandoners' as segment
    from abandoners
    where abandoned_cart and not abandoned_checkout

),

category_quantities as (

    select
        order_items.customer_id,
        order_items.category,
        sum(order_items.quantity) as quantity,
        count(distinct order_items.order_id) as orders
    from {{ ref('order_items') }} as order_items
    inner join {{ ref('orders') }} as orders on order_items.order_id = orders.order_id
    cross join as_of
    where
        order_items.customer_id is not null
        and not orders.is_cancelled
        and orders.ordered_at < as_of.as_of_date
    group by order_items.customer_id, order_items.category

),

category_shares as (

    select
        customer_id,
        category,
        orders,
        quantity / nullif(sum(quantity) over (partition by customer_id), 0) as quantity_share
    from category_quantities

),

category_segments as (

    select
        customer_id,
        category || '_lovers' as segment
    from category_shares
    where
        category in (
            {%- for category in lover_categories() %}
                '{{ category }}'{{ "," if not loop.last }}
            {%- else %}
                null
            {%- endfor %}
        )
        and quantity_share >= {{ var('segment_lover_min_share', 0.50) }}
        and orders >= {{ var('segment_lover_min_orders', 2) }}

),

unioned as (

    select * from score_segments
    union all
    select * from lifecycle_segments
    union all
    select * from engagement_segments
    union all
    select * from intent_segments
    union all
    select * from category_segments

),

final as (

    select
        unioned.customer_id,
        unioned.segment,
        case
            {%- for family, segments in segment_families().items() if segments %}
                when unioned.segment in ('{{ segments | join("', '") }}') then '{{ family }}'
            {%- endfor %}
        end as segment_family,
        as_of.as_of_date
    from unioned
    cross join as_of

)

select * from final
