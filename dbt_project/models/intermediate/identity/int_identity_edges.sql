{#-
    Identity resolution, step 4: the links between identities, star-shaped (each identity
    holding a linking key to that key's centre), in both directions. Grain: one row per
    (from_key, to_key, linked_at); `linked_at` is when both ends were known to hold the key.
    Stars keep the edge count linear in the number of identities for person-sized keys.
-#}
with

match_keys as (

    select * from {{ ref('int_identity_match_keys') }}

),

linking_keys as (

    select * from {{ ref('int_identity_linking_keys') }}

),

spokes as (

    select
        match_keys.identity_key,
        linking_keys.anchor_key,
        greatest(match_keys.known_at, linking_keys.anchor_known_at) as linked_at
    from match_keys
    inner join linking_keys on match_keys.match_key = linking_keys.match_key
    where match_keys.identity_key <> linking_keys.anchor_key

),

edges as (

    select
        identity_key as from_key,
        anchor_key as to_key,
        linked_at
    from spokes

    union

    select
        anchor_key as from_key,
        identity_key as to_key,
        linked_at
    from spokes

)

select * from edges
