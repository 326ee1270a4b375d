with

source as (

    select * from {{ source('shopify', 'orders') }}

),

renamed as (

    select
        id as shopify_order_gid,
        {{ strip_gid('id') }} as shopify_order_id,
        record ->> '$.name' as order_name,
        customer_id as shopify_customer_gid,
        {{ strip_gid('customer_id') }} as shopify_customer_id,
        {{ clean_email("record ->> '$.email'") }} as email,

        -- When the order was placed (UTC); `processed_at` differs for imported orders.
        created_at as ordered_at,
        processed_at,
        cancelled_at,
        cancelled_at is not null as is_cancelled,

        coalesce(currency, record ->> '$.currencyCode') as currency,
        {{ shop_money('record', 'subtotalPriceSet') }} as subtotal_amount,
        coalesce({{ shop_money('record', 'totalDiscountsSet') }}, 0) as discount_amount,
        cast(total as decimal(18, 2)) as total_amount,
        coalesce({{ shop_money('record', 'totalRefundedSet') }}, 0) as refunded_amount,

        -- paid / partially_refunded / refunded / pending / authorized / voided...
        lower(record ->> '$.displayFinancialStatus') as financial_status,
        coalesce(cast(record -> '$.discountCodes' as varchar[]), []) as discount_codes,
        coalesce(json_array_length(record -> '$.lineItems'), 0) as line_item_count,

        updated_at

    from source
    -- Staff test orders never reach the models (a singular test proves it).
    where not coalesce(test, false)

),

final as (

    select
        *,
        total_amount - refunded_amount as net_amount,
        refunded_amount > 0 as is_refunded,
        len(discount_codes) > 0 or discount_amount > 0 as has_discount
    from renamed

)

select * from final
