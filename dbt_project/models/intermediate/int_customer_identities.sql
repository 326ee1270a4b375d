{#-
    Identity resolution: which source identities are one person.

    Every Shopify customer (staff excluded), Klaviyo profile, Mailchimp member and CSV customer
    is a node. Nodes are linked through shared match keys:
      - the normalised, valid email (case and whitespace variants are one key);
      - a Klaviyo "Placed Order" event naming a Shopify order links the profile to the order's
        customer (platform ids; links people who have no usable email);
      - the phone number, only between identities that have no valid email (a shared family
        phone must not merge people who have their own addresses).
    A key shared by more than `identity_max_identities_per_key` identities is a placeholder
    ("none@none.com"), not a person, and links nothing. People are the connected components;
    the walk below is a transitive closure over star-shaped edges, so it stays linear in the
    number of identities for person-sized components.
-#}
{%- set max_per_key = var('identity_max_identities_per_key') -%}

with

shopify_customers as (

    select * from {{ ref('stg_shopify__customers') }}
    where not is_staff

),

klaviyo_profiles as (

    select * from {{ ref('stg_klaviyo__profiles') }}

),

mailchimp_members as (

    select * from {{ ref('stg_mailchimp__members') }}

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

identities as (

    select
        'shopify:' || shopify_customer_id as identity_key,
        'shopify' as source_system,
        shopify_customer_id as source_id,
        email,
        coalesce(has_invalid_email, false) as has_invalid_email,
        phone,
        created_at
    from shopify_customers

    union all

    select
        'klaviyo:' || profile_id as identity_key,
        'klaviyo' as source_system,
        profile_id as source_id,
        email,
        coalesce(has_invalid_email, false) as has_invalid_email,
        phone,
        created_at
    from klaviyo_profiles

    union all

    select
        'mailchimp:' || member_id as identity_key,
        'mailchimp' as source_system,
        member_id as source_id,
        email,
        coalesce(has_invalid_email, false) as has_invalid_email,
        phone,
        created_at
    from mailchimp_members

    union all

    -- One identity per CSV customer id; its most recent valid email stands for it.
    select
        'files:' || files_customer_id as identity_key,
        'files' as source_system,
        files_customer_id as source_id,
        arg_max(email, ordered_at) filter (where email is not null) as email,
        coalesce(bool_or(has_invalid_email), false) and count(email) = 0 as has_invalid_email,
        cast(null as varchar) as phone,
        min(ordered_at) as created_at
    from files_orders
    group by files_customer_id

),

candidate_keys as (

    -- every valid email a file customer used, not only the latest
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

-- Keys of known identities only (an event may name a profile since erased); each identity's
-- key once, from when it was first known.
match_keys as (

    select
        candidate_keys.identity_key,
        candidate_keys.match_key,
        min(candidate_keys.known_at) as known_at
    from candidate_keys
    semi join identities on candidate_keys.identity_key = identities.identity_key
    group by candidate_keys.identity_key, candidate_keys.match_key

),

-- Each key's star centre is its earliest known identity, so an identity arriving later never
-- changes when two earlier ones were linked.
usable_keys as (

    select
        match_key,
        first(identity_key order by known_at nulls last, identity_key) as anchor_key,
        min(known_at) as anchor_known_at
    from match_keys
    group by match_key
    having count(*) <= {{ max_per_key }}

),

edges as (

    select
        match_keys.identity_key as from_key,
        usable_keys.anchor_key as to_key,
        greatest(match_keys.known_at, usable_keys.anchor_known_at) as linked_at
    from match_keys
    inner join usable_keys on match_keys.match_key = usable_keys.match_key
    where match_keys.identity_key <> usable_keys.anchor_key

    union

    select
        usable_keys.anchor_key as from_key,
        match_keys.identity_key as to_key,
        greatest(match_keys.known_at, usable_keys.anchor_known_at) as linked_at
    from match_keys
    inner join usable_keys on match_keys.match_key = usable_keys.match_key
    where match_keys.identity_key <> usable_keys.anchor_key

),

reachable as (

    with recursive walk (identity_key, reached_key) as (

        select
            identity_key,
            identity_key as reached_key
        from identities

        union

        select
            walk.identity_key,
            edges.to_key as reached_key
        from walk
        inner join edges on walk.reached_key = edges.from_key

    )

    select * from walk

),

components as (

    select
        identity_key,
        min(reached_key) as component_key
    from reachable
    group by identity_key

),

component_anchors as (

    -- A person is named by their smallest linking email, else by their smallest identity
    -- (an email that links nobody, e.g. a placeholder, names nobody either).
    select
        components.component_key,
        coalesce(
            min(usable_keys.match_key) filter (where usable_keys.match_key like 'email:%'),
            min(components.identity_key)
        ) as anchor,
        count(distinct components.identity_key) as identity_count
    from components
    left join match_keys on components.identity_key = match_keys.identity_key
    left join usable_keys on match_keys.match_key = usable_keys.match_key
    group by components.component_key

),

-- The identities that carry the person's naming key: the person exists from when they did.
roots as (

    select
        components.identity_key,
        coalesce(match_keys.known_at, identities.created_at) as linked_at
    from components
    inner join component_anchors
        on components.component_key = component_anchors.component_key
    inner join identities on components.identity_key = identities.identity_key
    left join match_keys
        on
            components.identity_key = match_keys.identity_key
            and component_anchors.anchor = match_keys.match_key
    where
        match_keys.match_key is not null
        or components.identity_key = component_anchors.anchor

),

-- When each identity became linked to the person: the earliest path from a root, a path
-- being known once its last link was (a bottleneck path). Point-in-time features count an
-- identity's records only from then, so a link learnt later never rewrites earlier rows.
link_paths as (

    with recursive walk (identity_key, linked_at) as (

        select
            identity_key,
            linked_at
        from roots

        union

        select
            edges.to_key as identity_key,
            greatest(walk.linked_at, edges.linked_at) as linked_at
        from walk
        inner join edges on walk.identity_key = edges.from_key

    )

    select
        identity_key,
        min(linked_at) as linked_at
    from walk
    group by identity_key

),

final as (

    select
        identities.identity_key,
        identities.source_system,
        identities.source_id,
        identities.email,
        identities.has_invalid_email,
        identities.phone,
        identities.created_at,
        link_paths.linked_at,
        component_anchors.identity_count as customer_identity_count,
        md5(component_anchors.anchor) as customer_id
    from identities
    inner join components on identities.identity_key = components.identity_key
    inner join component_anchors
        on components.component_key = component_anchors.component_key
    left join link_paths on identities.identity_key = link_paths.identity_key

)

select * from final
