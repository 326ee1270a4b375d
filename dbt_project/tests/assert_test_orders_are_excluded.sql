-- Staff test orders (`test: true`) and staff accounts never reach the marts: every row returned
-- here is a test order, or a line of one, or a staff customer that leaked through.
-- In Dagster this is an asset check on `orders` (a singular test reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'orders'}}}) }}

with

test_orders as (

    select 'shopify:' || regexp_extract(id, '([^/]+)$', 1) as order_id
    from {{ source('shopify', 'orders') }}
    where test

),

staff_identities as (

    select 'shopify:' || shopify_customer_id as identity_key
    from {{ ref('stg_shopify__customers') }}
    where is_staff

),

leaks as (

    select
        'orders' as found_in,
        order_id as leaked_id
    from {{ ref('orders') }}
    where order_id in (select test_orders.order_id from test_orders)

    union all

    select
        'order_items' as found_in,
        order_id as leaked_id
    from {{ ref('order_items') }}
    where order_id in (select test_orders.order_id from test_orders)

    union all

    select
        'int_customer_identities' as found_in,
        identity_key as leaked_id
    from {{ ref('int_customer_identities') }}
    where identity_key in (select staff_identities.identity_key from staff_identities)

)

select * from leaks
