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

{#- The categories with a lover segment, as SQL naming a set: the shop's own categories
    (`shop_categories`, derived from what it sells) unless `segment_lover_categories` lists
    them. The names come from the data, so the `category` family's segments
    (`<category>_lovers`) are known only when the models run, never here. -#}
{% macro lover_categories_sql() -%}
    {%- set listed = var('segment_lover_categories', none) -%}
    {%- if listed is none -%}
        (select category from {{ ref('shop_categories') }})
    {%- elif listed | length == 0 -%}
        (select null)
    {%- else -%}
        ('{{ listed | join("', '") }}')
    {%- endif -%}
{%- endmacro %}

{#- Whether a segment name is a category lover segment (`<category>_lovers`). -#}
{% macro is_lover_segment(segment) -%}
    suffix({{ segment }}, '_lovers')
{%- endmacro %}

{#- Every segment of the core set with a fixed name, by family; the segment marts accept no
    other names except category lovers (`is_lover_segment`). -#}
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
        'category': [],
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
