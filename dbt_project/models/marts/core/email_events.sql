with

events as (

    select * from {{ ref('stg_klaviyo__events') }}
    where event_type in ('received', 'opened', 'clicked', 'bounced', 'unsubscribed', 'spam')

),

identities as (

    select * from {{ ref('int_customer_identities') }}
    where source_system = 'klaviyo'

),

final as (

    select
        events.event_id as email_event_id,
        identities.customer_id,
        identities.linked_at as attributed_at,
        events.profile_id,
        events.event_type,
        events.occurred_at,
        events.campaign_name,
        events.message_id,
        events.subject,
        events.bounce_type
    from events
    -- inner: events of profiles no longer in Klaviyo (erased) are dropped with them
    inner join identities on events.profile_id = identities.source_id

)

select * from final
