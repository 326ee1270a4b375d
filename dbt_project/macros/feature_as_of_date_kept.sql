{#- Which as-of dates the point-in-time features keep, given where the data ends: every date of
    the last `feature_daily_days` days, older dates on the snapshot weekday only, and any of var
    `feature_extra_as_of_dates` (e.g. a backtest's day). A SQL condition on the two date
    expressions; `customer_features` builds exactly these dates and `int_feature_as_of_dates`
    lists them to plan the feature build in batches. -#}
{% macro feature_as_of_date_kept(as_of_date, data_as_of) -%}
    ({{ as_of_date }} > {{ data_as_of }} - {{ var('feature_daily_days') }}
    or isodow({{ as_of_date }}) = {{ var('feature_snapshot_isodow') }}
    or {{ as_of_date }} in (
        {%- for extra in var('feature_extra_as_of_dates') %}cast('{{ extra }}' as date), {% endfor %}null
    ))
{%- endmacro %}
