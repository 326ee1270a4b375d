{#- The raw table appears with a shop's first CSV import; until then this model is empty. -#}
{%- set raw_columns = {
    'order_id': 'varchar',
    'customer_id': 'varchar',
    'ordered_at': 'timestamp',
    'total': 'double',
    'email': 'varchar',
    'currency': 'varchar',
    'quantity': 'bigint',
    'product': 'varchar',
    'category': 'varchar',
} -%}

with

source as (

    select * from {{ optional_source('files', 'orders', raw_columns) }}

),

renamed as (

    select
        order_id as files_order_id,
        {{ clean_text('customer_id') }} as files_customer_id,
        {{ clean_email('email') }} as email,
        {{ has_invalid_email('email') }} as has_invalid_email,

        ordered_at,
        upper({{ clean_text('currency') }}) as currency,
        cast(total as decimal(18, 2)) as total_amount,
        quantity,
        {{ clean_text('product') }} as product_title,
        lower({{ clean_text('category') }}) as category

    from source

)

select * from renamed
