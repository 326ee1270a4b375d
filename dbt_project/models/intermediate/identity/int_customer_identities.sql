{#-
    Identity resolution, last step: which person each source identity is, and since when.
    Grain: one row per source identity. The steps before it, in order: `int_identity_nodes`
    (the identities), `int_identity_match_keys` (what can link them), `int_identity_linking_keys`
    (keys that are not placeholders), `int_identity_edges`, `int_identity_components` (the
    people) and `int_identity_survivors` (the key each person is named by).
-#}
with

identities as (

    select * from {{ ref('int_identity_nodes') }}

),

match_keys as (

    select * from {{ ref('int_identity_match_keys') }}

),

edges as (

    select * from {{ ref('int_identity_edges') }}

),

components as (

    select * from {{ ref('int_identity_components') }}

),

survivors as (

    select * from {{ ref('int_identity_survivors') }}

),

-- The identities that carry the person's naming key: the person exists from when they did.
roots as (

    select
        components.identity_key,
        coalesce(match_keys.known_at, identities.created_at) as linked_at
    from components
    inner join survivors on components.component_key = survivors.component_key
    inner join identities on components.identity_key = identities.identity_key
    left join match_keys
        on
            components.identity_key = match_keys.identity_key
            and survivors.anchor = match_keys.match_key
    where
        match_keys.match_key is not null
        or components.identity_key = survivors.anchor

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
        survivors.identity_count as customer_identity_count,
        md5(survivors.anchor) as customer_id
    from identities
    inner join components on identities.identity_key = components.identity_key
    inner join survivors on components.component_key = survivors.component_key
    left join link_paths on identities.identity_key = link_paths.identity_key

)

select * from final
