{#- Empty until the Mailchimp ingest has created the raw table (see `optional_source`). -#}
{%- set raw_columns = {
    'id': 'varchar',
    'updated_at': 'timestamp',
    'created_at': 'timestamp',
    'email': 'varchar',
    'status': 'varchar',
    'record': 'json',
} -%}

with

source as (

    select * from {{ optional_source('mailchimp', 'members', raw_columns) }}

),

renamed as (

    select
        id as member_id,

        {{ clean_email('email') }} as email,
        {{ has_invalid_email('email') }} as has_invalid_email,
        {{ clean_text("record ->> '$.merge_fields.FNAME'") }} as first_name,
        {{ clean_text("record ->> '$.merge_fields.LNAME'") }} as last_name,
        {{ normalize_phone("record ->> '$.merge_fields.PHONE'") }} as phone,

        -- subscribed / unsubscribed / cleaned / pending / transactional / archived
        lower(status) as member_status,
        -- In Klaviyo's terms, so both platforms' consent reads the same downstream; a cleaned
        -- address (hard bounces) was subscribed once and may no longer be emailed.
        case lower(status)
            when 'subscribed' then 'subscribed'
            when 'unsubscribed' then 'unsubscribed'
            when 'cleaned' then 'unsubscribed'
            else 'never_subscribed'
        end as email_consent,
        {{ to_utc_timestamp("record ->> '$.timestamp_opt'") }} as email_consent_at,
        lower(status) = 'cleaned' as is_suppressed,
        case when lower(status) = 'cleaned' then 'hard_bounce' end as suppression_reason,
        lower(status) = 'subscribed' as can_receive_email_marketing,
        coalesce(json_array_length(record -> '$.tags'), 0) as tag_count,

        created_at,
        updated_at

    from source

)

select * from renamed
