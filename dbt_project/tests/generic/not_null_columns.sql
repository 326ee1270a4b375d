{#- Generic test: none of a model's `columns` is ever null. One test per model, not one per
    column: every test is a dbt node, with a fixed cost in each run. A failure has one row per
    column holding nulls, with how many. -#}
{% test not_null_columns(model, columns) %}

    with null_rows as (
        select
        {%- for column in columns %}
            count(*) filter (where {{ column }} is null) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
        from {{ model }}
    )

    select column_name, null_rows
    from (unpivot null_rows on columns(*) into name column_name value null_rows)
    where null_rows > 0

{% endtest %}
