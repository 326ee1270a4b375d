with

events as (

    select * from {{ ref('stg_klaviyo__events') }}
    where event_type in ('viewed_product', 'added_to_cart', 'started_checkout')

),

checkouts as (

    select * from {{ ref('stg_shopify__abandoned_checkouts') }}
    where completed_at is null

),

identities as (

    select * from {{ ref('int_customer_identities') }}

),

klaviyo as (

    select
        'klaviyo:' || events.event_id as site_event_id,
        identities.customer_id,
        identities.linked_at as attributed_at,
        'klaviyo' as source_system,
        events.event_type,
        events.occurred_at,
        events.product_id,
        events.product_name,
        events.category,
        events.product_price,
        events.value as event_value
    from events
    inner join identities on 'klaviyo:' || events.profile_id = identities.identity_key

),

-- Shopify's own record of a checkout left unpaid, alongside Klaviyo's "Started Checkout".
shopify as (

    select
        'shopify:' || checkouts.checkout_id as site_event_id,
        identities.customer_id,
        identities.linked_at as attributed_at,
        'shopify' as source_system,
        'abandoned_checkout' as event_type,
        checkouts.abandoned_at as occurred_at,
        cast(null as varchar) as product_id,
        cast(null as varchar) as product_name,
        cast(null as varchar) as category,
        cast(null as decimal(18, 2)) as product_price,
        cast(checkouts.total_amount as double) as event_value
    from checkouts
    inner join identities on 'shopify:' || checkouts.shopify_customer_id = identities.identity_key

),

unioned as (

    select * from klaviyo
    union all
    select * from shopify

)

select * from unioned
