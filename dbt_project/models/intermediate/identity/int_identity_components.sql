{#-
    Identity resolution, step 5: the people, as connected components of the identity graph.
    Grain: one row per identity, with `component_key`, the smallest identity key it reaches
    (label propagation over the edges), which every identity of one person shares.
-#}
-- The linter's DuckDB dialect cannot parse `using key` (below), nor then see the CTEs used.
-- noqa: disable=PRS,ST03,AM04
with

identities as (

    select * from {{ ref('int_identity_nodes') }}

),

-- Computed once: the walk joins it every round, and the view would be computed again each
-- time (out of memory at 1M customers).
edges as materialized (

    select * from {{ ref('int_identity_edges') }}

),

-- Label propagation: every identity starts as its own component; each round, an identity
-- whose neighbour's component got smaller takes the smallest such, until nothing changes (the
-- edges run both ways, so a component ends at its smallest key). `using key` keeps one row
-- per identity, the latest: memory grows with the identities, not with the pairs of a
-- person's identities that a transitive closure walks (out of memory at 1M customers).
components as (

    with recursive walk (identity_key, component_key) using key (identity_key) as (

        select
            identity_key,
            identity_key as component_key
        from identities

        union

        select
            edges.to_key as identity_key,
            min(walk.component_key) as component_key
        from walk
        inner join edges on walk.identity_key = edges.from_key
        left join recurring.walk as known on edges.to_key = known.identity_key
        group by edges.to_key
        having min(walk.component_key) < min(known.component_key)

    )

    select * from walk

)

select * from components
