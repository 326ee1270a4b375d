{#-
    Contact and consent fields are the current state (activation must honour the latest
    consent). Order, lifecycle and engagement fields use only records before `as_of_date`.
-#}
{%- set new_days = var('lifecycle_new_days') -%}
{%- set at_risk_days = var('lifecycle_at_risk_days') -%}
{%- set lapsed_days = var('lifecycle_lapsed_days') -%}
{%- set churned_days = var('lifecycle_churned_days') -%}
{%- set loyal_min_orders = var('lifecycle_loyal_min_orders') -%}
{%- set window_days = var('engagement_window_days') -%}

with

identities as (

    select * from {{ ref('int_customer_identities') }}

),

shopify_customers as (

    select * from {{ ref('stg_shopify__customers') }}

),

klaviyo_profiles as (

    select * from {{ ref('stg_klaviyo__profiles') }}

),

mailchimp_members as (

    select * from {{ ref('stg_mailchimp__members') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

orders as (

    select orders.*
    from {{ ref('orders') }} as orders
    cross join as_of
    where
        orders.customer_id is not null
        and not orders.is_cancelled
        and orders.ordered_at < as_of.as_of_date

),

email_events as (

    select email_events.*
    from {{ ref('email_events') }} as email_events
    cross join as_of
    where email_events.occurred_at < as_of.as_of_date

),

-- Each identity with its platform's contact and consent fields, ranked for "prefer":
-- the marketing systems (Klaviyo, then Mailchimp) first, then Shopify, then CSV imports;
-- newest first. Each platform's consent is its own (a Mailchimp status read as consent).
identity_contacts as (

    select
        identities.customer_id,
        identities.identity_key,
        identities.source_system,
        identities.source_id,
        identities.email,
        identities.has_invalid_email,
        identities.phone,
        identities.created_at,
        coalesce(
            klaviyo_profiles.suppression_reason, mailchimp_members.suppression_reason
        ) as suppression_reason,
        coalesce(
            klaviyo_profiles.suppressed_at,
            case when mailchimp_members.is_suppressed then mailchimp_members.updated_at end
        ) as suppressed_at,
        coalesce(
            klaviyo_profiles.first_name, mailchimp_members.first_name, shopify_customers.first_name
        ) as first_name,
        coalesce(
            klaviyo_profiles.last_name, mailchimp_members.last_name, shopify_customers.last_name
        ) as last_name,
        coalesce(
            klaviyo_profiles.email_consent,
            mailchimp_members.email_consent,
            case shopify_customers.email_marketing_state
                when 'subscribed' then 'subscribed'
                when 'unsubscribed' then 'unsubscribed'
                when 'redacted' then 'unsubscribed'
                else 'never_subscribed'
            end
        ) as email_consent,
        coalesce(
            klaviyo_profiles.email_consent_at,
            mailchimp_members.email_consent_at,
            shopify_customers.email_marketing_updated_at
        ) as email_consent_at,
        coalesce(
            klaviyo_profiles.is_suppressed, mailchimp_members.is_suppressed, false
        ) as is_suppressed,
        coalesce(
            klaviyo_profiles.updated_at, mailchimp_members.updated_at, shopify_customers.updated_at
        ) as updated_at,
        case identities.source_system
            when 'klaviyo' then 1 when 'mailchimp' then 2 when 'shopify' then 3 else 4
        end as source_rank
    from identities
    left join shopify_customers
        on
            identities.source_system = 'shopify'
            and identities.source_id = shopify_customers.shopify_customer_id
    left join klaviyo_profiles
        on
            identities.source_system = 'klaviyo'
            and identities.source_id = klaviyo_profiles.profile_id
    left join mailchimp_members
        on
            identities.source_system = 'mailchimp'
            and identities.source_id = mailchimp_members.member_id

),

contacts as (

    select
        customer_id,
        first(email order by source_rank asc, updated_at desc) filter (
            where email is not null
        ) as email,
        bool_or(has_invalid_email) and count(email) = 0 as has_invalid_email,
        first(first_name order by source_rank asc, updated_at desc) filter (
            where first_name is not null
        ) as first_name,
        first(last_name order by source_rank asc, updated_at desc) filter (
            where last_name is not null
        ) as last_name,
        first(phone order by source_rank asc, updated_at desc) filter (
            where phone is not null
        ) as phone,
        -- Consent is never inferred upwards: one unsubscribe anywhere wins.
        case
            when bool_or(email_consent = 'unsubscribed') then 'unsubscribed'
            when bool_or(email_consent = 'subscribed') then 'subscribed'
            else 'never_subscribed'
        end as email_consent,
        max(email_consent_at) as email_consent_at,
        bool_or(is_suppressed) as is_suppressed,
        first(suppression_reason order by suppressed_at desc) filter (
            where is_suppressed
        ) as suppression_reason,
        max(suppressed_at) as suppressed_at,
        first(source_id order by updated_at desc) filter (
            where source_system = 'klaviyo'
        ) as klaviyo_profile_id,
        first(source_id order by created_at) filter (
            where source_system = 'shopify'
        ) as shopify_customer_id,
        count(*) as identity_count,
        min(created_at) as first_seen_at
    from identity_contacts
    group by customer_id

),

order_summary as (

    select
        orders.customer_id,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at,
        count(*) as lifetime_orders,
        sum(orders.total_amount) as lifetime_gross_revenue,
        sum(orders.refunded_amount) as lifetime_refunded_amount,
        sum(orders.net_amount) as lifetime_net_revenue,
        count(*) filter (
            where orders.ordered_at >= as_of.as_of_date - {{ window_days }}
        ) as window_orders
    from orders
    cross join as_of
    group by orders.customer_id

),

email_summary as (

    select
        email_events.customer_id,
        count(*) filter (where email_events.event_type = 'opened') as window_opens,
        count(*) filter (where email_events.event_type = 'clicked') as window_clicks
    from email_events
    cross join as_of
    where email_events.occurred_at >= as_of.as_of_date - {{ window_days }}
    group by email_events.customer_id

),

joined as (

    select
        contacts.*,
        as_of.as_of_date,
        order_summary.first_order_at,
        order_summary.last_order_at,
        coalesce(order_summary.lifetime_orders, 0) as lifetime_orders,
        coalesce(order_summary.lifetime_gross_revenue, 0) as lifetime_gross_revenue,
        coalesce(order_summary.lifetime_refunded_amount, 0) as lifetime_refunded_amount,
        coalesce(order_summary.lifetime_net_revenue, 0) as lifetime_net_revenue,
        date_diff(
            'day', cast(order_summary.first_order_at as date), as_of.as_of_date
        ) as days_since_first_order,
        date_diff(
            'day', cast(order_summary.last_order_at as date), as_of.as_of_date
        ) as days_since_last_order,
        coalesce(order_summary.window_orders, 0) as engagement_orders,
        coalesce(email_summary.window_clicks, 0) as engagement_clicks,
        coalesce(email_summary.window_opens, 0) as engagement_opens
    from contacts
    cross join as_of
    left join order_summary on contacts.customer_id = order_summary.customer_id
    left join email_summary on contacts.customer_id = email_summary.customer_id

),

scored as (

    select
        *,
        email is not null
        and email_consent = 'subscribed'
        and not is_suppressed as can_receive_email_marketing,
        case
            when lifetime_orders > 0 then lifetime_net_revenue / lifetime_orders
        end as average_order_value,
        -- Checked in this order: recency first, then how new, then how often.
        case
            when lifetime_orders = 0 then 'prospect'
            when days_since_last_order >= {{ churned_days }} then 'churned'
            when days_since_last_order >= {{ lapsed_days }} then 'lapsed'
            when days_since_last_order >= {{ at_risk_days }} then 'at_risk'
            when days_since_first_order < {{ new_days }} then 'new'
            when lifetime_orders >= {{ loyal_min_orders }} then 'loyal'
            else 'active'
        end as lifecycle_stage,
        {{ var('engagement_weight_purchase') }} * engagement_orders
        + {{ var('engagement_weight_click') }} * engagement_clicks
        + {{ var('engagement_weight_open') }} * engagement_opens as engagement_score
    from joined

),

final as (

    select
        *,
        case
            when engagement_score >= {{ var('engagement_high_min_score') }} then 'high'
            when engagement_score >= {{ var('engagement_medium_min_score') }} then 'medium'
            else 'low'
        end as engagement_band
    from scored

)

select * from final
