with

source as (

    select * from {{ source('klaviyo', 'events') }}

),

metrics as (

    select * from {{ ref('stg_klaviyo__metrics') }}

),

renamed as (

    select
        id as event_id,
        profile_id,
        metric_id,
        occurred_at,
        value,

        record ->> '$.attributes.uuid' as event_uuid,
        record ->> '$.attributes.event_properties."Campaign Name"' as campaign_name,
        record ->> '$.attributes.event_properties."$message"' as message_id,
        record ->> '$.attributes.event_properties.Subject' as subject,
        lower(record ->> '$.attributes.event_properties."Bounce Type"') as bounce_type,
        record ->> '$.attributes.event_properties.ProductID' as product_id,
        record ->> '$.attributes.event_properties.ProductName' as product_name,
        lower(record ->> '$.attributes.event_properties.Categories[0]') as category,
        try_cast(
            record ->> '$.attributes.event_properties.Price' as decimal(18, 2)
        ) as product_price,
        record ->> '$.attributes.event_properties.OrderId' as order_id

    from source

),

joined as (

    select
        renamed.*,
        metrics.metric_name,
        -- One stable name per kind of event, whatever the account calls its metrics.
        case metrics.metric_name
            when 'Received Email' then 'received'
            when 'Opened Email' then 'opened'
            when 'Clicked Email' then 'clicked'
            when 'Bounced Email' then 'bounced'
            when 'Unsubscribed from Email Marketing' then 'unsubscribed'
            when 'Unsubscribed' then 'unsubscribed'
            when 'Marked Email as Spam' then 'spam'
            when 'Viewed Product' then 'viewed_product'
            when 'Added to Cart' then 'added_to_cart'
            when 'Started Checkout' then 'started_checkout'
            when 'Placed Order' then 'placed_order'
            else 'other'
        end as event_type
    from renamed
    left join metrics on renamed.metric_id = metrics.metric_id

)

select * from joined
