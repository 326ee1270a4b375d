with

source as (

    select * from {{ source('shopify', 'orders') }}
    where not coalesce(test, false)

),

unnested as (

    select
        id as shopify_order_gid,
        created_at as ordered_at,
        unnest(cast(record -> '$.lineItems' as json[])) as line_item
    from source

),

renamed as (

    select
        line_item ->> '$.id' as order_line_gid,
        {{ strip_gid("line_item ->> '$.id'") }} as order_line_id,
        shopify_order_gid,
        {{ strip_gid('shopify_order_gid') }} as shopify_order_id,
        ordered_at,

        line_item ->> '$.product.id' as shopify_product_gid,
        {{ strip_gid("line_item ->> '$.product.id'") }} as shopify_product_id,
        {{ strip_gid("line_item ->> '$.variant.id'") }} as shopify_variant_id,
        line_item ->> '$.sku' as sku,
        line_item ->> '$.title' as product_title,
        lower({{ clean_text("line_item ->> '$.product.productType'") }}) as category,

        coalesce(try_cast(line_item ->> '$.quantity' as integer), 0) as quantity,
        {{ shop_money('line_item', 'originalUnitPriceSet') }} as unit_price

    from unnested

),

final as (

    select
        *,
        quantity * unit_price as line_amount
    from renamed

)

select * from final
