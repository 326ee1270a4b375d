with

source as (

    select * from {{ source('klaviyo', 'profiles') }}

),

renamed as (

    select
        id as profile_id,

        {{ clean_email('email') }} as email,
        {{ has_invalid_email('email') }} as has_invalid_email,
        {{ clean_text("record ->> '$.attributes.first_name'") }} as first_name,
        {{ clean_text("record ->> '$.attributes.last_name'") }} as last_name,
        {{ normalize_phone("record ->> '$.attributes.phone_number'") }} as phone,
        {{ clean_text("record ->> '$.attributes.external_id'") }} as external_id,

        -- subscribed / unsubscribed / never_subscribed
        lower(
            record ->> '$.attributes.subscriptions.email.marketing.consent'
        ) as email_consent,
        {{ to_utc_timestamp(
            "record ->> '$.attributes.subscriptions.email.marketing.consent_timestamp'"
        ) }} as email_consent_at,
        record ->> '$.attributes.subscriptions.email.marketing.method' as email_consent_method,
        -- The latest global suppression (hard_bounce / spam_complaint / unsubscribe /
        -- user_suppressed / invalid_email), if any: Klaviyo will not email a suppressed profile.
        lower(
            record ->> '$.attributes.subscriptions.email.marketing.suppression[#-1].reason'
        ) as suppression_reason,
        {{ to_utc_timestamp(
            "record ->> '$.attributes.subscriptions.email.marketing.suppression[#-1].timestamp'"
        ) }} as suppressed_at,
        coalesce(
            json_array_length(record -> '$.attributes.subscriptions.email.marketing.suppression'),
            0
        ) > 0 as is_suppressed,
        coalesce(
            try_cast(
                record
                ->> '$.attributes.subscriptions.email.marketing.can_receive_email_marketing'
                as boolean
            ),
            false
        ) as can_receive_email_marketing,

        {{ to_utc_timestamp("record ->> '$.attributes.last_event_date'") }} as last_event_at,
        created_at,
        updated_at

    from source

)

select * from renamed
