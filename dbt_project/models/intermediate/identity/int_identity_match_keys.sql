{#-
    Identity resolution, step 2: the keys through which identities can be linked. Grain: one
    row per (identity_key, match_key), with when the identity was first known to hold the key:
      - `email:<address>`: every normalised, valid email (a CSV customer's every address, not
        only the latest);
      - `phone:<number>`: only for identities without a valid email (a shared family phone
        must not merge people who have their own addresses);
      - `shopify:<id>`: a Shopify customer's own key, which a Klaviyo profile also holds from
        the moment one of its "Placed Order" events named an order of that customer (this
        links people who have no usable email).
    Only keys of known identities: an event may name a profile since erased.
-#}
with

identities as (

    select * from {{ ref('int_identity_nodes') }}

),

files_orders as (

    select * from {{ ref('stg_files__orders') }}
    where files_customer_id is not null

),

placed_order_events as (

    select * from {{ ref('stg_klaviyo__events') }}
    where event_type = 'placed_order' and order_id is not null

),

shopify_orders as (

    select * from {{ ref('stg_shopify__orders') }}

),

candidate_keys as (

    select
        'files:' || files_customer_id as identity_key,
        'email:' || email as match_key,
        min(ordered_at) as known_at
    from files_orders
    where email is not null
    group by files_customer_id, email

    union all

    select
        identity_key,
        'email:' || email as match_key,
        created_at as known_at
    from identities
    where email is not null

    union all

    select
        identity_key,
        'phone:' || phone as match_key,
        created_at as known_at
    from identities
    where email is null and phone is not null

    union all

    select
        identity_key,
        identity_key as match_key,
        created_at as known_at
    from identities
    where source_system = 'shopify'

    union all

    -- known from the moment the order event happened
    select
        'klaviyo:' || placed_order_events.profile_id as identity_key,
        'shopify:' || shopify_orders.shopify_customer_id as match_key,
        placed_order_events.occurred_at as known_at
    from placed_order_events
    inner join shopify_orders
        on placed_order_events.order_id = shopify_orders.shopify_order_id

),

match_keys as (

    select
        candidate_keys.identity_key,
        candidate_keys.match_key,
        min(candidate_keys.known_at) as known_at
    from candidate_keys
    semi join identities on candidate_keys.identity_key = identities.identity_key
    group by candidate_keys.identity_key, candidate_keys.match_key

)

select * from match_keys
