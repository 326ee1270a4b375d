{#- Shared rules of the segment and measurement marts. -#}

{#- Whether a person is in a segment's holdout (control group): the first 32 bits of
    md5(segment:customer_id:salt) as a fraction of 2^32, below `segment_holdout_share`.
    md5 rather than DuckDB's hash() because its value is fixed forever: the same person in the
    same segment gets the same answer in every run, rebuild and backfill, and independently
    per segment. -#}
{% macro segment_holdout(segment, customer_id) -%}
    (
        cast(
            '0x' || left(md5(
                {{ segment }} || ':' || {{ customer_id }} || ':'
                || '{{ var('segment_holdout_salt') }}'
            ), 8) as bigint
        ) / 4294967296.0 < {{ var('segment_holdout_share') }}
    )
{%- endmacro %}

{#- The categories with a lover segment: every feature category unless
    `segment_lover_categories` names fewer. -#}
{% macro lover_categories() -%}
    {{ return(var('segment_lover_categories', var('feature_categories', []))) }}
{%- endmacro %}

{#- The names of the category lover segments, one per lover category. -#}
{% macro lover_segments() -%}
    {%- set names = [] -%}
    {%- for category in lover_categories() -%}
        {%- do names.append(category ~ '_lovers') -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- Every segment of the core set, by family; the segment marts accept no other names. -#}
{% macro segment_families() -%}
    {{ return({
        'value': ['vip', 'high_value_at_risk'],
        'purchase_propensity': [
            'purchase_propensity_high', 'purchase_propensity_medium', 'purchase_propensity_low'
        ],
        'churn_risk': ['churn_risk_high', 'churn_risk_medium', 'churn_risk_low'],
        'lifecycle': ['new_customers', 'active', 'lapsed_win_back', 'replenishment_due'],
        'engagement': ['inactive_subscribers'],
        'intent': ['cart_abandoners', 'checkout_abandoners'],
        'category': lover_segments(),
    }) }}
{%- endmacro %}

{#- All segment names of the core set, as a flat list. -#}
{% macro segment_names() -%}
    {%- set names = [] -%}
    {%- for members in segment_families().values() -%}
        {%- do names.extend(members) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
