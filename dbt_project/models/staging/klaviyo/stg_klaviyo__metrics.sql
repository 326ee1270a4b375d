with

source as (

    select * from {{ source('klaviyo', 'metrics') }}

),

renamed as (

    select
        id as metric_id,
        name as metric_name,
        record ->> '$.attributes.integration.key' as integration_key,
        record ->> '$.attributes.integration.name' as integration_name,
        {{ to_utc_timestamp("record ->> '$.attributes.created'") }} as created_at,
        updated_at

    from source

)

select * from renamed
