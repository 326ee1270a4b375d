{#-
    Mailchimp's per-recipient campaign activity as email events in the same vocabulary as
    `stg_klaviyo__events` (received, opened, clicked, bounced, unsubscribed, spam).

    Mailchimp counts a bounced send as sent; Klaviyo's "Received Email" is a delivered one, so
    a send becomes `received` only when that recipient's copy of the campaign did not bounce.
    An unsubscribe whose reason is an abuse complaint is `spam`. Empty until the Mailchimp
    ingest has created the raw table (see `optional_source`).
-#}
{%- set raw_columns = {
    'id': 'varchar',
    'occurred_at': 'timestamp',
    'campaign_id': 'varchar',
    'member_id': 'varchar',
    'action': 'varchar',
    'record': 'json',
} -%}

with

source as (

    select * from {{ optional_source('mailchimp', 'email_activity', raw_columns) }}

),

campaigns as (

    select
        id as campaign_id,
        record ->> '$.settings.subject_line' as subject,
        coalesce(
            record ->> '$.settings.title', record ->> '$.settings.subject_line'
        ) as campaign_name
    from {{ optional_source('mailchimp', 'campaigns', {'id': 'varchar', 'record': 'json'}) }}

),

bounced as (

    select distinct
        campaign_id,
        member_id
    from source
    where lower(action) = 'bounce'

),

renamed as (

    select
        source.id as event_id,
        source.member_id,
        source.campaign_id,
        source.occurred_at,
        campaigns.campaign_name,
        campaigns.subject,
        lower(source.record ->> '$.type') as bounce_type,
        case
            when lower(source.action) = 'sent' then 'received'
            when lower(source.action) = 'open' then 'opened'
            when lower(source.action) = 'click' then 'clicked'
            when lower(source.action) = 'bounce' then 'bounced'
            when
                lower(source.action) = 'unsubscribe'
                and lower(source.record ->> '$.reason') like '%abuse%'
                then 'spam'
            when lower(source.action) = 'unsubscribe' then 'unsubscribed'
            else 'other'
        end as event_type
    from source
    left join campaigns on source.campaign_id = campaigns.campaign_id
    -- a bounced recipient's send was never received
    anti join bounced
        on
            lower(source.action) = 'sent'
            and source.campaign_id = bounced.campaign_id
            and source.member_id = bounced.member_id

)

select * from renamed
