with

shopify_orders as (

    select * from {{ ref('stg_shopify__orders') }}

),

files_orders as (

    select * from {{ ref('stg_files__orders') }}

),

-- Klaviyo "Placed Order" events are a shop's orders when its cart is not Shopify. With Shopify
-- they repeat Shopify's own orders (which carry refunds and line items), so then they are not
-- orders of their own. One order per order id (a resent event is the same order).
klaviyo_placed_orders as (

    select
        profile_id,
        occurred_at,
        coalesce(order_id, event_id) as klaviyo_order_id,
        try_cast(value as decimal(18, 2)) as order_value
    from {{ ref('stg_klaviyo__events') }}
    where
        event_type = 'placed_order'
        -- Asked of the staging model, not the `shopify_orders` CTE: DuckDB can hang for ever
        -- when one CTE feeds both arms of a union and an EXISTS in one of them.
        and not exists (select 1 from {{ ref('stg_shopify__orders') }})
    qualify row_number() over (
        partition by coalesce(order_id, event_id) order by occurred_at, event_id
    ) = 1

),

klaviyo_item_totals as (

    select
        klaviyo_order_id,
        sum(line_amount) as subtotal_amount
    from {{ ref('stg_klaviyo__order_items') }}
    group by klaviyo_order_id

),

identities as (

    select * from {{ ref('int_customer_identities') }}

),

staff_customers as (

    select shopify_customer_id from {{ ref('stg_shopify__customers') }}
    where is_staff

),

-- A guest checkout (no customer on the order) still belongs to whoever owns its email, when
-- exactly one customer does (a placeholder address shared by several attributes nothing).
customers_by_email as (

    select
        email,
        any_value(customer_id) as customer_id,
        min(linked_at) as linked_at
    from identities
    where email is not null
    group by email
    having count(distinct customer_id) = 1

),

shopify as (

    select
        'shopify:' || shopify_orders.shopify_order_id as order_id,
        'shopify' as source_system,
        shopify_orders.shopify_order_id as source_order_id,
        coalesce(identities.customer_id, customers_by_email.customer_id) as customer_id,
        -- when the order became attributable to its customer (see int_customer_identities)
        coalesce(identities.linked_at, customers_by_email.linked_at) as attributed_at,
        shopify_orders.ordered_at,
        shopify_orders.currency,
        shopify_orders.subtotal_amount,
        shopify_orders.discount_amount,
        shopify_orders.total_amount,
        shopify_orders.refunded_amount,
        shopify_orders.net_amount,
        shopify_orders.financial_status,
        shopify_orders.is_refunded,
        shopify_orders.is_cancelled,
        shopify_orders.cancelled_at,
        -- Shopify stamps no time on `totalRefunded`; the order's last update is the earliest
        -- moment the refund is certainly known, so point-in-time features use it.
        case
            when shopify_orders.refunded_amount > 0 then shopify_orders.updated_at
        end as refund_known_at,
        shopify_orders.has_discount,
        shopify_orders.discount_codes
    from shopify_orders
    left join identities
        on 'shopify:' || shopify_orders.shopify_customer_id = identities.identity_key
    left join customers_by_email
        on
            shopify_orders.shopify_customer_id is null
            and shopify_orders.email = customers_by_email.email
    -- Orders on staff accounts are internal, like test orders.
    anti join staff_customers
        on shopify_orders.shopify_customer_id = staff_customers.shopify_customer_id

),

files as (

    select
        'files:' || files_orders.files_order_id as order_id,
        'files' as source_system,
        files_orders.files_order_id as source_order_id,
        identities.customer_id,
        identities.linked_at as attributed_at,
        files_orders.ordered_at,
        files_orders.currency,
        files_orders.total_amount as subtotal_amount,
        cast(0 as decimal(18, 2)) as discount_amount,
        files_orders.total_amount,
        cast(0 as decimal(18, 2)) as refunded_amount,
        files_orders.total_amount as net_amount,
        'paid' as financial_status,
        false as is_refunded,
        false as is_cancelled,
        cast(null as timestamp) as cancelled_at,
        cast(null as timestamp) as refund_known_at,
        false as has_discount,
        cast([] as varchar[]) as discount_codes
    from files_orders
    left join identities
        on 'files:' || files_orders.files_customer_id = identities.identity_key

),

klaviyo as (

    select
        'klaviyo:' || klaviyo_placed_orders.klaviyo_order_id as order_id,
        'klaviyo' as source_system,
        klaviyo_placed_orders.klaviyo_order_id as source_order_id,
        identities.customer_id,
        identities.linked_at as attributed_at,
        klaviyo_placed_orders.occurred_at as ordered_at,
        -- the event carries no currency: the shop's one currency is implied
        cast(null as varchar) as currency,
        coalesce(klaviyo_item_totals.subtotal_amount, klaviyo_placed_orders.order_value)
            as subtotal_amount,
        -- the order's value is after discounts; its items are at list price
        greatest(
            coalesce(
                klaviyo_item_totals.subtotal_amount - klaviyo_placed_orders.order_value, 0
            ),
            0
        ) as discount_amount,
        coalesce(klaviyo_placed_orders.order_value, klaviyo_item_totals.subtotal_amount)
            as total_amount,
        cast(0 as decimal(18, 2)) as refunded_amount,
        coalesce(klaviyo_placed_orders.order_value, klaviyo_item_totals.subtotal_amount)
            as net_amount,
        'paid' as financial_status,
        false as is_refunded,
        false as is_cancelled,
        cast(null as timestamp) as cancelled_at,
        cast(null as timestamp) as refund_known_at,
        coalesce(klaviyo_item_totals.subtotal_amount > klaviyo_placed_orders.order_value, false)
            as has_discount,
        cast([] as varchar[]) as discount_codes
    from klaviyo_placed_orders
    left join klaviyo_item_totals
        on klaviyo_placed_orders.klaviyo_order_id = klaviyo_item_totals.klaviyo_order_id
    left join identities
        on 'klaviyo:' || klaviyo_placed_orders.profile_id = identities.identity_key

),

unioned as (

    select * from shopify
    union all
    select * from files
    union all
    select * from klaviyo

)

select * from unioned
