{#-
    Grain: one row per category the models and segments name: the shop's `category_count`
    (var) best-selling categories by items sold before the as-of date, ranked 1..N (ties by
    name). Categories come from the data (Shopify product types, a CSV's category column);
    every other category counts as `other` downstream. Empty when the data has no categories.
-#}

with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

items as (

    select
        category,
        sum(quantity) as items_sold,
        count(distinct customer_id) as customers
    from {{ ref('order_items') }}
    where
        category is not null
        and {{ before_as_of('ordered_at', '(select as_of_date from as_of)') }}
    group by category

),

ranked as (

    select
        cast(row_number() over (order by items_sold desc, category asc) as integer)
            as category_rank,
        category,
        cast(items_sold as bigint) as items_sold,
        cast(customers as bigint) as customers
    from items

)

select * from ranked
where category_rank <= {{ var('category_count') }}
order by category_rank
