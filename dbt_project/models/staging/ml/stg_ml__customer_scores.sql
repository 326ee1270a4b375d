{#-
    The ML stage's scores as dbt reads them: one row per (customer_id, as_of_date) of every
    scoring run. The table appears with the first scoring run; until then this model is empty
    and the segments that need scores have no members.
-#}
{%- set score_columns = {
    'customer_id': 'varchar',
    'as_of_date': 'date',
    'churn_probability': 'double',
    'purchase_probability': 'double',
    'cltv_predicted': 'double',
    'cltv_p10': 'double',
    'cltv_p90': 'double',
    'churn_tier': 'varchar',
    'purchase_tier': 'varchar',
    'cltv_tier': 'varchar',
    'next_best_category': 'varchar',
    'expected_next_order_date': 'date',
    'churn_reasons': 'varchar[]',
    'purchase_reasons': 'varchar[]',
    'cltv_reasons': 'varchar[]',
    'model_version': 'varchar',
    'score_source': 'varchar',
    'scored_at': 'timestamp',
} -%}

with

source as (

    select * from {{ optional_source('ml', 'customer_scores', score_columns) }}

),

final as (

    -- Named, not `*`: the source's columns depend on whether the table exists yet.
    select {{ score_columns | join(", ") }}
    from source

)

select * from final
