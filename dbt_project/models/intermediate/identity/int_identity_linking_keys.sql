{#-
    Identity resolution, step 3: the match keys that link, each with its star centre. Grain:
    one row per match key held by at most `identity_max_identities_per_key` identities; a key
    held by more is a placeholder ("none@none.com"), not a person, and links nothing.

    The centre (`anchor_key`) is the key's earliest known identity, so an identity arriving
    later never changes when two earlier ones were linked.
-#}
{%- set max_per_key = var('identity_max_identities_per_key') -%}

with

match_keys as (

    select * from {{ ref('int_identity_match_keys') }}

),

linking_keys as (

    select
        match_key,
        first(identity_key order by known_at nulls last, identity_key) as anchor_key,
        min(known_at) as anchor_known_at
    from match_keys
    group by match_key
    having count(*) <= {{ max_per_key }}

)

select * from linking_keys
