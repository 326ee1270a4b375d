{#-
    Who is in which segment of the core set as of the customers mart's as-of date: the members
    of every rule family (one step model each, `int_segment_*_members`) with the segment's
    family. Each rule is documented, with its intended action, on `customer_segments` in
    models/marts/segments/_segments__models.yml; every threshold is a `segment_*` var.
-#}

with

unioned as (

    select * from {{ ref('int_segment_score_members') }}
    union all
    select * from {{ ref('int_segment_lifecycle_members') }}
    union all
    select * from {{ ref('int_segment_engagement_members') }}
    union all
    select * from {{ ref('int_segment_intent_members') }}
    union all
    select * from {{ ref('int_segment_category_members') }}

),

as_of as (

    select max(as_of_date) as as_of_date from {{ ref('customers') }}

),

final as (

    select
        unioned.customer_id,
        unioned.segment,
        case unioned.segment
            {%- for family, segments in segment_families().items() %}
                {%- for segment in segments %}
                    when '{{ segment }}' then '{{ family }}'
                {%- endfor %}
            {%- endfor %}
            {#- lover segments are named after the shop's categories, known only in the data #}
            else case when {{ is_lover_segment('unioned.segment') }} then 'category' end
        end as segment_family,
        as_of.as_of_date
    from unioned
    cross join as_of

)

select * from final
