with

source as (

    select * from {{ source('klaviyo', 'lists') }}

),

renamed as (

    select
        id as list_id,
        name as list_name,
        record ->> '$.attributes.opt_in_process' as opt_in_process,
        {{ to_utc_timestamp("record ->> '$.attributes.created'") }} as created_at,
        updated_at

    from source

)

select * from renamed
