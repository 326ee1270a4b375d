{#-
    Grain: one row per (customer_id, as_of_date): what was known about the customer strictly
    before the as-of date (see `before_as_of`). Built incrementally per as-of window (environment
    variables FORESIGHT_AS_OF_FROM / FORESIGHT_AS_OF_TO, which the Dagster partition sets;
    unset: from the first day of data to the data's as-of date): every date of the last
    `feature_daily_days` days before the data's as-of date, older dates only on the weekly
    snapshot day (plus any of var `feature_extra_as_of_dates`, e.g. a backtest's day), so the
    table equals a fresh build whatever the order of runs.

    One model past 300 lines on purpose: every feature family joins the same as-of spine, which
    depends on the run's window. As separate models the spine and families would have to
    be ephemeral (a view would keep another run's window), and the unit tests would then mock
    each family's spine instead of checking the point-in-time rule end to end.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='as_of_date',
    on_schema_change='append_new_columns',
    post_hook=[
        "delete from {{ this }} where as_of_date <= (select max(as_of_date) from {{ this }}) - "
        ~ var('feature_daily_days') ~ " and isodow(as_of_date) != "
        ~ var('feature_snapshot_isodow') ~ extra_as_of_dates_kept(),
        "delete from {{ this }} where customer_id not in
            (select customer_id from {{ ref('customers') }})",
    ],
) }}
{%- set as_of_from = env_var('FORESIGHT_AS_OF_FROM', '') or none -%}
{%- set as_of_to = env_var('FORESIGHT_AS_OF_TO', '') or none -%}

with

customers as (

    -- first known: when the earliest identity that names the person appeared
    select
        customer_id,
        min(linked_at) as first_seen_at
    from {{ ref('int_customer_identities') }}
    group by customer_id

),

data_end as (

    select as_of_date as data_as_of from {{ ref('int_as_of_date') }}

),

as_of_window as (

    select
        data_end.data_as_of,
        {% if as_of_from is not none -%}
            cast('{{ as_of_from }}' as date)
        {%- else -%}
            (select cast(min(customers.first_seen_at) as date) + 1 from customers)
        {%- endif %} as window_from,
        least(
            {% if as_of_to is not none -%}
                cast('{{ as_of_to }}' as date)
            {%- else -%}
                data_end.data_as_of
            {%- endif %},
            data_end.data_as_of
        ) as window_to
    from data_end

),

as_of_dates as (

    select candidate_dates.as_of_date
    from (
        select
            data_as_of,
            cast(unnest(generate_series(window_from, window_to, interval 1 day)) as date)
                as as_of_date
        from as_of_window
    ) as candidate_dates
    where {{ feature_as_of_date_kept('candidate_dates.as_of_date', 'candidate_dates.data_as_of') }}

),

spine as (

    select
        customers.customer_id,
        as_of_dates.as_of_date,
        customers.first_seen_at,
        as_of_dates.as_of_date - 7 as as_of_minus_7,
        as_of_dates.as_of_date - 30 as as_of_minus_30,
        as_of_dates.as_of_date - 90 as as_of_minus_90,
        as_of_dates.as_of_date - 365 as as_of_minus_365
    from customers
    inner join as_of_dates
        on {{ before_as_of('customers.first_seen_at', 'as_of_dates.as_of_date') }}

),

first_orders as (

    select
        customer_id,
        min(ordered_at) as first_ordered_at
    from {{ ref('orders') }}
    where customer_id is not null
    group by customer_id

),

checkouts as (

    select
        identities.customer_id,
        checkouts.abandoned_at as started_at,
        checkouts.completed_at,
        greatest(checkouts.abandoned_at, identities.linked_at) as attributed_at
    from {{ ref('stg_shopify__abandoned_checkouts') }} as checkouts
    inner join {{ ref('int_customer_identities') }} as identities
        on 'shopify:' || checkouts.shopify_customer_id = identities.identity_key

),

-- Started in the window and not completed before the as-of date.
abandoned_checkouts as (

    select
        spine.customer_id,
        spine.as_of_date,
        count(*) filter (where checkouts.started_at >= spine.as_of_minus_7) as abandoned_7d,
        count(*) as abandoned_30d
    from spine
    inner join checkouts
        on
            spine.customer_id = checkouts.customer_id
            and {{ before_as_of('checkouts.attributed_at', 'spine.as_of_date') }}
            and checkouts.started_at >= spine.as_of_minus_30
            and not coalesce(
                {{ before_as_of('checkouts.completed_at', 'spine.as_of_date') }}, false
            )
    group by spine.customer_id, spine.as_of_date

),

-- Items bought per category, and products viewed or added to a cart per category, as of
-- each date (see `category_counts_as_of`).
{{ category_counts_as_of(
    'category_totals', 'int_customer_category_days', 'cumulative_quantity', 'quantity',
    'category_quantities'
) }},

{{ category_counts_as_of(
    'browsed_category_totals', 'int_customer_browsed_category_days', 'cumulative_browsed',
    'browsed', 'browsed_categories'
) }},

{%- set lookups = [
    ('orders', 'int_customer_order_days',
     {'now': 'as_of_date', '30': 'as_of_minus_30', '90': 'as_of_minus_90',
      '365': 'as_of_minus_365'}),
    ('emails', 'int_customer_email_days',
     {'now': 'as_of_date', '30': 'as_of_minus_30', '90': 'as_of_minus_90'}),
    ('site', 'int_customer_site_days',
     {'now': 'as_of_date', '7': 'as_of_minus_7', '30': 'as_of_minus_30'}),
] %}

-- Running totals as of each window's start (ASOF: the customer's last activity day before
-- it); a window's count is the difference between two of them. Each lookup ASOF-joins the bare
-- spine and is joined back by key: chained onto one row, every ASOF join would sort again all
-- the columns looked up before it, for every as-of date (most of a full build's time). A
-- customer without activity before the start has no row there, so their totals stay null.
{% for family, model, windows in lookups -%}
    {% for name, start in windows.items() -%}
        {{ family }}_{{ name }} as (

            select
                history.*,
                spine.as_of_date
            from spine
            asof inner join {{ ref(model) }} as history
                on
                    spine.customer_id = history.customer_id
                    and {{ before_as_of('history.activity_date', 'spine.' ~ start) }}

        ),

    {% endfor -%}
{% endfor -%}
looked_up as (

    select
        spine.customer_id,
        spine.as_of_date,
        date_diff('day', spine.first_seen_at, spine.as_of_date) as days_since_first_seen,
        coalesce(orders_now.cumulative_placed_orders, 0) > 0 as has_ordered,
        {% for window in ['30', '90', '365'] -%}
            {{ windowed_total('orders', 'orders', window) }} as orders_{{ window }}d,
        {% endfor -%}
        coalesce(orders_now.cumulative_orders, 0) as orders_lifetime,
        {% for window in ['30', '90', '365'] -%}
            round({{ windowed_total('orders', 'revenue', window) }}, 2) as revenue_{{ window }}d,
        {% endfor -%}
        round(coalesce(orders_now.cumulative_revenue, 0), 2) as revenue_lifetime,
        orders_now.cumulative_gaps as gaps,
        orders_now.cumulative_gap_days as gap_days,
        orders_now.cumulative_gap_days_squared as gap_days_squared,
        orders_now.cumulative_discounted_orders as discounted_orders,
        orders_now.cumulative_refunded_orders as refunded_orders,
        orders_now.cumulative_quantity_total as quantity_total,
        category_totals.category_quantities,
        browsed_category_totals.browsed_categories,
        date_diff('second', first_orders.first_ordered_at, spine.as_of_date) / 86400.0
            as days_since_first_order_raw,
        date_diff('second', orders_now.last_placed_at, spine.as_of_date) / 86400.0
            as days_since_last_order,
        {% for window in ['30', '90'] -%}
            {% for column in ['received', 'opened', 'clicked'] -%}
                {{ windowed_total('emails', column, window) }} as emails_{{ column }}_{{ window }}d,
            {% endfor -%}
        {% endfor -%}
        date_diff('second', emails_now.last_opened_at, spine.as_of_date) / 86400.0
            as days_since_last_open,
        date_diff('second', emails_now.last_clicked_at, spine.as_of_date) / 86400.0
            as days_since_last_click,
        emails_now.preferred_open_hour,
        coalesce(emails_now.cumulative_received, 0) as emails_received_lifetime,
        coalesce(emails_now.cumulative_unsubscribed, 0) as unsubscribes_lifetime,
        {% for window in ['7', '30'] -%}
            {{ windowed_total('site', 'product_views', window) }} as product_views_{{ window }}d,
            {{ windowed_total('site', 'add_to_carts', window) }} as add_to_carts_{{ window }}d,
        {% endfor -%}
        coalesce(abandoned_checkouts.abandoned_7d, 0) as abandoned_checkouts_7d,
        coalesce(abandoned_checkouts.abandoned_30d, 0) as abandoned_checkouts_30d
    from spine
    {% for family, model, windows in lookups -%}
        {% for name in windows -%}
            left join {{ family }}_{{ name }}
                on
                    spine.customer_id = {{ family }}_{{ name }}.customer_id
                    and spine.as_of_date = {{ family }}_{{ name }}.as_of_date
        {% endfor -%}
    {% endfor -%}
    left join first_orders on spine.customer_id = first_orders.customer_id
    left join category_totals
        on
            spine.customer_id = category_totals.customer_id
            and spine.as_of_date = category_totals.as_of_date
    left join browsed_category_totals
        on
            spine.customer_id = browsed_category_totals.customer_id
            and spine.as_of_date = browsed_category_totals.as_of_date
    left join abandoned_checkouts
        on
            spine.customer_id = abandoned_checkouts.customer_id
            and spine.as_of_date = abandoned_checkouts.as_of_date

),

final as (

    select
        customer_id,
        as_of_date,
        cast(days_since_first_seen as integer) as days_since_first_seen,
        has_ordered,
        cast(orders_30d as integer) as orders_30d,
        cast(orders_90d as integer) as orders_90d,
        cast(orders_365d as integer) as orders_365d,
        cast(orders_lifetime as integer) as orders_lifetime,
        cast(revenue_30d as double) as revenue_30d,
        cast(revenue_90d as double) as revenue_90d,
        cast(revenue_365d as double) as revenue_365d,
        cast(revenue_lifetime as double) as revenue_lifetime,
        cast(round(revenue_lifetime / nullif(orders_lifetime, 0), 2) as double) as avg_order_value,
        case when has_ordered then days_since_first_order_raw end as days_since_first_order,
        days_since_last_order,
        gap_days / nullif(gaps, 0) as mean_gap_days,
        -- sample spread of the gaps from running sums (needs two gaps, i.e. three orders)
        case
            when gaps >= 2
                then sqrt(greatest(
                    (gap_days_squared - gap_days * gap_days / gaps) / (gaps - 1), 0
                ))
        end as sd_gap_days,
        days_since_last_order / nullif(gap_days / nullif(gaps, 0), 0) as recency_gap_ratio,
        discounted_orders / nullif(orders_lifetime, 0) as discount_order_share,
        refunded_orders / nullif(orders_lifetime, 0) as refund_order_share,
        cast(quantity_total as integer) as quantity_total,
        coalesce(
            category_quantities, cast([] as struct(category varchar, quantity integer)[])
        ) as category_quantities,
        category_quantities[1].category as top_category,
        coalesce(
            browsed_categories, cast([] as struct(category varchar, browsed integer)[])
        ) as browsed_categories,
        {% for window in ['30', '90'] -%}
            cast(emails_received_{{ window }}d as integer) as emails_received_{{ window }}d,
            cast(emails_opened_{{ window }}d as integer) as emails_opened_{{ window }}d,
            cast(emails_clicked_{{ window }}d as integer) as emails_clicked_{{ window }}d,
            emails_opened_{{ window }}d / nullif(emails_received_{{ window }}d, 0)
                as open_rate_{{ window }}d,
            emails_clicked_{{ window }}d / nullif(emails_received_{{ window }}d, 0)
                as click_rate_{{ window }}d,
        {% endfor -%}
        days_since_last_open,
        days_since_last_click,
        {% for window in ['7', '30'] -%}
            cast(product_views_{{ window }}d as integer) as product_views_{{ window }}d,
            cast(add_to_carts_{{ window }}d as integer) as add_to_carts_{{ window }}d,
        {% endfor -%}
        cast(abandoned_checkouts_7d as integer) as abandoned_checkouts_7d,
        cast(abandoned_checkouts_30d as integer) as abandoned_checkouts_30d,
        -- hour of day (UTC) with most opens; the earliest such hour on a tie
        preferred_open_hour,
        -- Consent as evidenced before the date: an unsubscribe or spam complaint, else having
        -- been sent marketing email. The profile's current consent is not used: it may have
        -- changed since.
        case
            when unsubscribes_lifetime > 0 then 'unsubscribed'
            when emails_received_lifetime > 0 then 'subscribed'
            else 'never_subscribed'
        end as email_consent
    from looked_up

)

select * from final
