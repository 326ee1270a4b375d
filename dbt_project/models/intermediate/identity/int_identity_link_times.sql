{#-
    Identity resolution, step 7: when each identity became linked to its person. Grain: one row
    per identity a path from the person's naming identities reaches, with `linked_at`, the
    earliest time such a path was known. A table of its own: the walk holds every identity of
    the shop, and inside the query that joins everything else too it ran out of memory at 1M
    customers.
-#}
-- The linter's DuckDB dialect cannot parse `using key` (below), nor then see the CTEs used.
-- noqa: disable=PRS,ST03,AM04
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

-- Identity keys as numbers for the walk: its state and joins hold integers, not strings.
node_numbers as (

    select
        identity_key,
        row_number() over (order by identity_key) as node
    from (select distinct identity_key from identities) as distinct_identities

),

numbered_edges as materialized (

    select
        from_nodes.node as from_node,
        to_nodes.node as to_node,
        edges.linked_at
    from edges
    inner join node_numbers as from_nodes on edges.from_key = from_nodes.identity_key
    inner join node_numbers as to_nodes on edges.to_key = to_nodes.identity_key

),

-- When each identity became linked to the person: the earliest path from a root, a path
-- being known once its last link was (a bottleneck path). Point-in-time features count an
-- identity's records only from then, so a link learnt later never rewrites earlier rows.
-- Each round, an identity takes an earlier time found through a neighbour that changed;
-- `using key` keeps one row per identity, the latest: memory grows with the identities, not
-- with every distinct path time.
link_paths as (

    with recursive walk (node, linked_at) using key (node) as (

        select
            node_numbers.node,
            min(roots.linked_at) as linked_at
        from roots
        inner join node_numbers on roots.identity_key = node_numbers.identity_key
        group by node_numbers.node

        union

        select
            numbered_edges.to_node as node,
            min(greatest(walk.linked_at, numbered_edges.linked_at)) as linked_at
        from walk
        inner join numbered_edges on walk.node = numbered_edges.from_node
        left join recurring.walk as known on numbered_edges.to_node = known.node
        group by numbered_edges.to_node
        having
            count(known.node) = 0
            or min(greatest(walk.linked_at, numbered_edges.linked_at)) < min(known.linked_at)
            or (
                min(known.linked_at) is null
                and min(greatest(walk.linked_at, numbered_edges.linked_at)) is not null
            )

    )

    select
        node_numbers.identity_key,
        walk.linked_at
    from walk
    inner join node_numbers on walk.node = node_numbers.node

),

final as (

    select
        identity_key,
        linked_at
    from link_paths

)

select * from final
