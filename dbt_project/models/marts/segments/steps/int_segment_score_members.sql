{#-
    Score-based segment rules (value, churn risk, purchase propensity, replenishment due): who
    is in which as of the customers mart's as-of date, by the latest scoring run at or before
    it. Empty until the ML stage has scored once. Each rule is documented on `customer_segments`.
-#}
{%- set churn_high = var('segment_churn_high_min_probability') -%}
{%- set churn_medium = var('segment_churn_medium_min_probability') -%}
{%- set purchase_high = var('segment_purchase_high_min_probability') -%}
{%- set purchase_medium = var('segment_purchase_medium_min_probability') -%}

with

customers as (

    select * from {{ ref('customers') }}

),

as_of as (

    select max(as_of_date) as as_of_date from customers

),

all_scores as (

    select * from {{ ref('stg_ml__customer_scores') }}

),

scoring_run as (

    select max(all_scores.as_of_date) as scored_as_of
    from all_scores
    cross join as_of
    where all_scores.as_of_date <= as_of.as_of_date

),

-- inner join: scores of people no longer in the warehouse (erased) make no member
scores as (

    select
        all_scores.*,
        customers.lifetime_orders
    from all_scores
    inner join scoring_run on all_scores.as_of_date = scoring_run.scored_as_of
    inner join customers on all_scores.customer_id = customers.customer_id

),

-- Share of scored customers with a CLTV at least as high: 0.05 = in the top 5%.
cltv_ranks as (

    select
        customer_id,
        cume_dist() over (order by cltv_predicted desc) as cltv_top_share
    from scores
    where cltv_predicted is not null

),

final as (

    select
        scores.customer_id,
        'vip' as segment
    from scores
    inner join cltv_ranks on scores.customer_id = cltv_ranks.customer_id
    where
        cltv_ranks.cltv_top_share <= {{ var('segment_vip_top_share') }}
        and scores.lifetime_orders >= {{ var('segment_vip_min_orders') }}

    union all

    select
        scores.customer_id,
        'high_value_at_risk' as segment
    from scores
    inner join cltv_ranks on scores.customer_id = cltv_ranks.customer_id
    where
        cltv_ranks.cltv_top_share <= {{ var('segment_high_value_top_share') }}
        and scores.churn_probability >= {{ churn_high }}

    union all

    select
        customer_id,
        case
            when churn_probability >= {{ churn_high }} then 'churn_risk_high'
            when churn_probability >= {{ churn_medium }} then 'churn_risk_medium'
            else 'churn_risk_low'
        end as segment
    from scores
    where churn_probability is not null

    union all

    select
        customer_id,
        case
            when purchase_probability >= {{ purchase_high }} then 'purchase_propensity_high'
            when purchase_probability >= {{ purchase_medium }} then 'purchase_propensity_medium'
            else 'purchase_propensity_low'
        end as segment
    from scores
    where purchase_probability is not null

    union all

    select
        scores.customer_id,
        'replenishment_due' as segment
    from scores
    cross join as_of
    where
        scores.expected_next_order_date
        >= as_of.as_of_date - {{ var('segment_replenishment_overdue_days') }}
        and scores.expected_next_order_date
        < as_of.as_of_date + {{ var('segment_replenishment_days') }}

)

select * from final
