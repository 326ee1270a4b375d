with

orders as (

    select * from {{ ref('int_orders') }}

),

shopify_lines as (

    select * from {{ ref('stg_shopify__order_lines') }}

),

files_orders as (

    select * from {{ ref('stg_files__orders') }}

),

klaviyo_items as (

    select * from {{ ref('stg_klaviyo__order_items') }}

),

shopify as (

    select
        'shopify:' || shopify_lines.order_line_id as order_item_id,
        orders.order_id,
        orders.customer_id,
        orders.source_system,
        orders.ordered_at,
        shopify_lines.shopify_product_id as product_id,
        shopify_lines.shopify_variant_id as variant_id,
        shopify_lines.sku,
        shopify_lines.product_title,
        shopify_lines.category,
        shopify_lines.quantity,
        shopify_lines.unit_price,
        shopify_lines.line_amount
    from shopify_lines
    -- inner: lines of excluded orders (staff accounts) go with their order
    inner join orders on 'shopify:' || shopify_lines.shopify_order_id = orders.order_id

),

-- A CSV row is one order of one product: one item.
files as (

    select
        orders.order_id as order_item_id,
        orders.order_id,
        orders.customer_id,
        orders.source_system,
        orders.ordered_at,
        cast(null as varchar) as product_id,
        cast(null as varchar) as variant_id,
        cast(null as varchar) as sku,
        files_orders.product_title,
        files_orders.category,
        coalesce(files_orders.quantity, 1) as quantity,
        files_orders.total_amount / coalesce(nullif(files_orders.quantity, 0), 1) as unit_price,
        files_orders.total_amount as line_amount
    from files_orders
    inner join orders on 'files:' || files_orders.files_order_id = orders.order_id

),

-- Items of Klaviyo "Placed Order" events, for the orders int_orders took from Klaviyo.
klaviyo as (

    select
        'klaviyo:' || klaviyo_items.order_item_id as order_item_id,
        orders.order_id,
        orders.customer_id,
        orders.source_system,
        orders.ordered_at,
        klaviyo_items.product_id,
        cast(null as varchar) as variant_id,
        klaviyo_items.sku,
        klaviyo_items.product_title,
        klaviyo_items.category,
        klaviyo_items.quantity,
        klaviyo_items.unit_price,
        klaviyo_items.line_amount
    from klaviyo_items
    inner join orders on 'klaviyo:' || klaviyo_items.klaviyo_order_id = orders.order_id
    -- a resent event repeats its order's items: keep the first event's
    qualify dense_rank() over (
        partition by klaviyo_items.klaviyo_order_id
        order by klaviyo_items.ordered_at, klaviyo_items.event_id
    ) = 1

),

unioned as (

    select * from shopify
    union all
    select * from files
    union all
    select * from klaviyo

)

select * from unioned
