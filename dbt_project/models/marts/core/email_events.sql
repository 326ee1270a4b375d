{#-
    Email events in one vocabulary, from the shop's marketing platform: Klaviyo's events of
    known profiles, or Mailchimp's campaign activity of known members. When both platforms hold
    email activity, Klaviyo's is used: a shop connected to both commonly mirrors one audience
    into the other, and counting one send twice would double every email feature (as Klaviyo's
    "Placed Order" events are not orders once Shopify's are there).
    Whether Klaviyo holds any is asked of its staging model, not of the `klaviyo_events` CTE:
    DuckDB can hang for ever (every thread parked, no error) when one CTE feeds both arms of a
    union and an EXISTS in one of them; a 100k-customer shop's build of this model did.
-#}
{%- set email_event_types = "'received', 'opened', 'clicked', 'bounced', 'unsubscribed', 'spam'" -%}
with

klaviyo_events as (

    select * from {{ ref('stg_klaviyo__events') }}
    where event_type in ({{ email_event_types }})

),

mailchimp_events as (

    select * from {{ ref('stg_mailchimp__email_activity') }}
    where
        event_type in ({{ email_event_types }})
        and not exists (
            select 1 from {{ ref('stg_klaviyo__events') }} as any_klaviyo
            where any_klaviyo.event_type in ({{ email_event_types }})
        )

),

identities as (

    select * from {{ ref('int_customer_identities') }}
    where source_system in ('klaviyo', 'mailchimp')

),

final as (

    select
        klaviyo_events.event_id as email_event_id,
        identities.customer_id,
        identities.linked_at as attributed_at,
        'klaviyo' as email_platform,
        klaviyo_events.profile_id,
        klaviyo_events.event_type,
        klaviyo_events.occurred_at,
        klaviyo_events.campaign_name,
        klaviyo_events.message_id,
        klaviyo_events.subject,
        klaviyo_events.bounce_type
    from klaviyo_events
    -- inner: events of profiles no longer in Klaviyo (erased) are dropped with them
    inner join identities
        on
            identities.source_system = 'klaviyo'
            and klaviyo_events.profile_id = identities.source_id

    union all

    select
        'mailchimp:' || mailchimp_events.event_id as email_event_id,
        identities.customer_id,
        identities.linked_at as attributed_at,
        'mailchimp' as email_platform,
        mailchimp_events.member_id as profile_id,
        mailchimp_events.event_type,
        mailchimp_events.occurred_at,
        mailchimp_events.campaign_name,
        mailchimp_events.campaign_id as message_id,
        mailchimp_events.subject,
        mailchimp_events.bounce_type
    from mailchimp_events
    -- inner: activity of members deleted from the audience (erased) is dropped with them
    inner join identities
        on
            identities.source_system = 'mailchimp'
            and mailchimp_events.member_id = identities.source_id

)

select * from final
