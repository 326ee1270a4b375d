{%- set staff_tags = var('staff_customer_tags') -%}

with

source as (

    select * from {{ source('shopify', 'customers') }}

),

renamed as (

    select
        id as shopify_customer_gid,
        {{ strip_gid('id') }} as shopify_customer_id,

        {{ clean_email('email') }} as email,
        {{ has_invalid_email('email') }} as has_invalid_email,
        {{ clean_text("record ->> '$.firstName'") }} as first_name,
        {{ clean_text("record ->> '$.lastName'") }} as last_name,
        {{ normalize_phone("record ->> '$.phone'") }} as phone,

        coalesce(cast(record -> '$.tags' as varchar[]), []) as tags,
        -- Staff accounts (tagged by the shop) place test orders; they are not customers.
        list_has_any(
            coalesce(cast(record -> '$.tags' as varchar[]), []),
            [{% for tag in staff_tags %}'{{ tag }}'{{ ", " if not loop.last }}{% endfor %}]
        ) as is_staff,

        -- subscribed / unsubscribed / not_subscribed / pending...; null without an email
        lower(record ->> '$.emailMarketingConsent.marketingState') as email_marketing_state,
        lower(
            record ->> '$.emailMarketingConsent.marketingOptInLevel'
        ) as email_marketing_opt_in_level,
        {{ to_utc_timestamp("record ->> '$.emailMarketingConsent.consentUpdatedAt'") }}
            as email_marketing_updated_at,

        try_cast(record ->> '$.numberOfOrders' as integer) as number_of_orders,
        try_cast(record ->> '$.amountSpent.amount' as decimal(18, 2)) as amount_spent,

        created_at,
        updated_at

    from source

)

select * from renamed
