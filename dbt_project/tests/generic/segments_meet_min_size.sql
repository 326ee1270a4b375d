{#- Segments of the core set with fewer than `segment_min_size` members (absent ones count as
    zero): a segment that small is probably a broken rule or input, and too small to measure.
    Meant as a warning (`severity: warn`), not a blocker: a new shop has small segments. -#}
{% test segments_meet_min_size(model) %}

    with

    expected as (

        select unnest([
            {%- for name in segment_names() %}
                '{{ name }}'{{ "," if not loop.last }}
            {%- endfor %}
        ]) as segment

    ),

    sizes as (

        select
            segment,
            count(*) as members
        from {{ model }}
        group by segment

    )

    select
        expected.segment,
        coalesce(sizes.members, 0) as members
    from expected
    left join sizes on expected.segment = sizes.segment
    where coalesce(sizes.members, 0) < {{ var('segment_min_size') }}

{% endtest %}
