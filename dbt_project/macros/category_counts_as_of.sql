{#-
    Per (customer_id, as_of_date) of the model's `spine` CTE: the customer's running count per
    category in `days_model` (grain customer × category × activity_date, running column
    `running`) as of the date, as a list of {category, `field`} largest first (ties by name),
    leaving out categories at zero. Names, not positions, so a row stays right when the shop's
    category ranking changes later.
-#}
{% macro category_counts_as_of(days_model, running, field, alias) -%}
    select
        category_spine.customer_id,
        category_spine.as_of_date,
        list(
            {'category': category_spine.category, '{{ field }}': days.{{ running }}}
            order by days.{{ running }} desc, category_spine.category asc
        ) filter (where days.{{ running }} > 0) as {{ alias }}
    from (
        select
            spine.customer_id,
            spine.as_of_date,
            customer_categories.category
        from spine
        inner join (
            select distinct
                customer_id,
                category
            from {{ ref(days_model) }}
        ) as customer_categories on spine.customer_id = customer_categories.customer_id
    ) as category_spine
    asof inner join {{ ref(days_model) }} as days
        on
            category_spine.customer_id = days.customer_id
            and category_spine.category = days.category
            and {{ before_as_of('days.activity_date', 'category_spine.as_of_date') }}
    group by category_spine.customer_id, category_spine.as_of_date
{%- endmacro %}
