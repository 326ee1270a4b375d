{#-
    Identity resolution, step 1: every source identity that may be a person. Grain: one row
    per Shopify customer (staff excluded), Klaviyo profile, Mailchimp audience member and CSV
    customer id.
-#}
with

shopify_customers as (

    select * from {{ ref('stg_shopify__customers') }}
    where not is_staff

),

klaviyo_profiles as (

    select * from {{ ref('stg_klaviyo__profiles') }}

),

mailchimp_members as (

    select * from {{ ref('stg_mailchimp__members') }}

),

files_orders as (

    select * from {{ ref('stg_files__orders') }}
    where files_customer_id is not null

),

identities as (

    select
        'shopify:' || shopify_customer_id as identity_key,
        'shopify' as source_system,
        shopify_customer_id as source_id,
        email,
        coalesce(has_invalid_email, false) as has_invalid_email,
        phone,
        created_at
    from shopify_customers

    union all

    select
        'klaviyo:' || profile_id as identity_key,
        'klaviyo' as source_system,
        profile_id as source_id,
        email,
        coalesce(has_invalid_email, false) as has_invalid_email,
        phone,
        created_at
    from klaviyo_profiles

    union all

    select
        'mailchimp:' || member_id as identity_key,
        'mailchimp' as source_system,
        member_id as source_id,
        email,
        coalesce(has_invalid_email, false) as has_invalid_email,
        phone,
        created_at
    from mailchimp_members

    union all

    -- One identity per CSV customer id; its most recent valid email stands for it.
    select
        'files:' || files_customer_id as identity_key,
        'files' as source_system,
        files_customer_id as source_id,
        arg_max(email, ordered_at) filter (where email is not null) as email,
        coalesce(bool_or(has_invalid_email), false) and count(email) = 0 as has_invalid_email,
        cast(null as varchar) as phone,
        min(ordered_at) as created_at
    from files_orders
    group by files_customer_id

)

select * from identities
