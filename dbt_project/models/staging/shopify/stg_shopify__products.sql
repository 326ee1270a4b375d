with

source as (

    select * from {{ source('shopify', 'products') }}

),

renamed as (

    select
        id as shopify_product_gid,
        {{ strip_gid('id') }} as shopify_product_id,
        record ->> '$.title' as product_title,
        lower({{ clean_text("record ->> '$.productType'") }}) as category,
        record ->> '$.vendor' as vendor,
        coalesce(json_array_length(record -> '$.variants'), 0) as variant_count,
        list_min(
            try_cast(json_extract_string(record, '$.variants[*].price') as decimal(18, 2)[])
        ) as min_price,
        created_at,
        updated_at

    from source

)

select * from renamed
