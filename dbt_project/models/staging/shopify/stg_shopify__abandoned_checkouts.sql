with

source as (

    select * from {{ source('shopify', 'abandoned_checkouts') }}

),

renamed as (

    select
        id as checkout_gid,
        {{ strip_gid('id') }} as checkout_id,
        customer_id as shopify_customer_gid,
        {{ strip_gid('customer_id') }} as shopify_customer_id,

        created_at as abandoned_at,
        {{ to_utc_timestamp("record ->> '$.completedAt'") }} as completed_at,

        {{ shop_money('record', 'totalPriceSet') }} as total_amount,
        record ->> '$.totalPriceSet.shopMoney.currencyCode' as currency,
        coalesce(json_array_length(record -> '$.lineItems'), 0) as line_item_count,
        coalesce(
            list_sum(
                try_cast(json_extract_string(record, '$.lineItems[*].quantity') as integer[])
            ),
            0
        ) as item_quantity,

        updated_at

    from source

)

select * from renamed
