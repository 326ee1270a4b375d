{#-
    Identity resolution, step 5: the people, as connected components of the identity graph.
    Grain: one row per identity, with `component_key`, the smallest identity key it reaches
    (the transitive closure of the edges), which every identity of one person shares.
-#}
with

identities as (

    select * from {{ ref('int_identity_nodes') }}

),

edges as (

    select * from {{ ref('int_identity_edges') }}

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

)

select * from components
