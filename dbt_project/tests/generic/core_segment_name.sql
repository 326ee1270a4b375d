{#- Rows whose segment is not of the core set: neither a fixed-name segment (`segment_names`)
    nor a category lover segment (`<category>_lovers`, named after the shop's own categories). -#}
{% test core_segment_name(model, column_name) %}

    select {{ column_name }}
    from {{ model }}
    where
        {{ column_name }} not in ('{{ segment_names() | join("', '") }}')
        and not {{ is_lover_segment(column_name) }}

{% endtest %}
