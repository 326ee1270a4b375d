{#-
    Identity resolution, step 6: the key each person is named by. Grain: one row per person
    (component). A person is named by their smallest linking email, else by their smallest
    identity (an email that links nobody, e.g. a placeholder, names nobody either);
    `customer_id` downstream is md5 of this `anchor`.
-#}
with

components as (

    select * from {{ ref('int_identity_components') }}

),

match_keys as (

    select * from {{ ref('int_identity_match_keys') }}

),

linking_keys as (

    select * from {{ ref('int_identity_linking_keys') }}

),

survivors as (

    select
        components.component_key,
        coalesce(
            min(linking_keys.match_key) filter (where linking_keys.match_key like 'email:%'),
            min(components.identity_key)
        ) as anchor,
        count(distinct components.identity_key) as identity_count
    from components
    left join match_keys on components.identity_key = match_keys.identity_key
    left join linking_keys on match_keys.match_key = linking_keys.match_key
    group by components.component_key

)

select * from survivors
