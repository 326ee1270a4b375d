{#-
    CTEs ending in `name`, per (customer_id, as_of_date) of the model's `spine` CTE: the
    customer's running count per category in `days_model` (grain customer × category ×
    activity_date, running column `running`) as of the date, as a list of {category, `field`}
    largest first (ties by name), leaving out categories at zero. Names, not positions, so a
    row stays right when the shop's category ranking changes later.
    Each as-of date looks up the customer's last activity day before it, and a list is built
    once per such day, however many as-of dates share it: building the lists is the costly part.
-#}
{% macro category_counts_as_of(name, days_model, running, field, alias) -%}
{{ name }}_lookups as (

    select
        spine.customer_id,
        spine.as_of_date,
        activity_days.activity_date
    from spine
    asof inner join (
        select distinct
            customer_id,
            activity_date
        from {{ ref(days_model) }}
    ) as activity_days
        on
            spine.customer_id = activity_days.customer_id
            and {{ before_as_of('activity_days.activity_date', 'spine.as_of_date') }}

),

-- as of the end of a looked-up day: each category's count on its last activity day up to it
{{ name }}_lists as (

    select
        looked_up_days.customer_id,
        looked_up_days.activity_date,
        list(
            {'category': customer_categories.category, '{{ field }}': days.{{ running }}}
            order by days.{{ running }} desc, customer_categories.category asc
        ) filter (where days.{{ running }} > 0) as {{ alias }}
    from (
        select distinct
            customer_id,
            activity_date
        from {{ name }}_lookups
    ) as looked_up_days
    inner join (
        select distinct
            customer_id,
            category
        from {{ ref(days_model) }}
    ) as customer_categories on looked_up_days.customer_id = customer_categories.customer_id
    asof inner join {{ ref(days_model) }} as days
        on
            customer_categories.customer_id = days.customer_id
            and customer_categories.category = days.category
            and looked_up_days.activity_date >= days.activity_date
    group by looked_up_days.customer_id, looked_up_days.activity_date

),

{{ name }} as (

    select
        lookups.customer_id,
        lookups.as_of_date,
        lists.{{ alias }}
    from {{ name }}_lookups as lookups
    inner join {{ name }}_lists as lists
        on
            lookups.customer_id = lists.customer_id
            and lookups.activity_date = lists.activity_date

)
{%- endmacro %}
