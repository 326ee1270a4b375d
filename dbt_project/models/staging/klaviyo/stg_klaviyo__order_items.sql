{#-
    The items of Klaviyo "Placed Order" events: how a shop whose orders reach Klaviyo from its
    cart (and not from Shopify) tells us what was bought. Event properties follow Klaviyo's
    documented Placed Order shape (`Items` with ProductID, SKU, ProductName, Quantity, ItemPrice,
    RowTotal, Categories).
-#}
with

placed_orders as (

    select * from {{ ref('stg_klaviyo__events') }}
    where event_type = 'placed_order'

),

source as (

    select
        id as event_id,
        record -> '$.attributes.event_properties.Items' as items
    from {{ source('klaviyo', 'events') }}

),

unnested as (

    select
        placed_orders.event_id,
        placed_orders.profile_id,
        placed_orders.occurred_at as ordered_at,
        coalesce(placed_orders.order_id, placed_orders.event_id) as klaviyo_order_id,
        unnest(cast(source.items as json[])) as item,
        generate_subscripts(cast(source.items as json[]), 1) as item_position
    from placed_orders
    inner join source on placed_orders.event_id = source.event_id
    where json_type(source.items) = 'ARRAY'

),

renamed as (

    select
        klaviyo_order_id || ':' || item_position as order_item_id,
        klaviyo_order_id,
        event_id,
        profile_id,
        ordered_at,
        {{ clean_text("item ->> '$.ProductID'") }} as product_id,
        {{ clean_text("item ->> '$.SKU'") }} as sku,
        {{ clean_text("item ->> '$.ProductName'") }} as product_title,
        lower({{ clean_text("item ->> '$.Categories[0]'") }}) as category,
        coalesce(try_cast(item ->> '$.Quantity' as integer), 1) as quantity,
        try_cast(item ->> '$.ItemPrice' as decimal(18, 2)) as unit_price,
        coalesce(
            try_cast(item ->> '$.RowTotal' as decimal(18, 2)),
            try_cast(item ->> '$.ItemPrice' as decimal(18, 2))
            * coalesce(try_cast(item ->> '$.Quantity' as integer), 1)
        ) as line_amount
    from unnested

)

select * from renamed
