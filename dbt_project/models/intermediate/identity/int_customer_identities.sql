{#-
    Identity resolution, last step: which person each source identity is, and since when.
    Grain: one row per source identity. The steps before it, in order: `int_identity_nodes`
    (the identities), `int_identity_match_keys` (what can link them), `int_identity_linking_keys`
    (keys that are not placeholders), `int_identity_edges`, `int_identity_components` (the
    people), `int_identity_survivors` (the key each person is named by) and
    `int_identity_link_times` (since when each identity is linked to its person).
-#}
with

identities as (

    select * from {{ ref('int_identity_nodes') }}

),

components as (

    select * from {{ ref('int_identity_components') }}

),

survivors as (

    select * from {{ ref('int_identity_survivors') }}

),

link_times as (

    select * from {{ ref('int_identity_link_times') }}

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
        link_times.linked_at,
        survivors.identity_count as customer_identity_count,
        md5(survivors.anchor) as customer_id
    from identities
    inner join components on identities.identity_key = components.identity_key
    inner join survivors on components.component_key = survivors.component_key
    left join link_times on identities.identity_key = link_times.identity_key

)

select * from final
