{#- The pruning hook's exception for the extra as-of dates (var `feature_extra_as_of_dates`,
    e.g. a backtest's day that is not a snapshot weekday): SQL to append to its condition. -#}
{% macro extra_as_of_dates_kept() -%}
    {%- set dates = [] -%}
    {%- for day in var('feature_extra_as_of_dates') -%}
        {%- do dates.append("date '" ~ day ~ "'") -%}
    {%- endfor -%}
    {%- if dates -%}
        {{ " and as_of_date not in (" ~ dates | join(", ") ~ ")" }}
    {%- endif -%}
{%- endmacro %}
