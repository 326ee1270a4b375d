{#-
    A source table that may not exist yet, e.g. `raw_files.orders` in a shop that never
    imported an order CSV (the ingest creates it on the first import).

    When the table exists this is simply `source(...)`. When it does not, it is an empty
    relation with the given columns and types, so the staging model (and everything downstream)
    still builds, with no rows from that source. dbt never creates or writes the raw table
    itself: raw schemas belong to the ingest stage. The dependency on the source is recorded
    either way, so lineage (and Dagster's asset graph) is the same with or without the table.

    columns: a mapping of column name to DuckDB type, in the table's column order.

    In a dbt unit test the source is the test's fixture (a CTE), used as given whether or not
    the warehouse holds the table.
-#}
{% macro optional_source(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set found = none -%}
    {%- if execute and not relation.is_cte -%}
        {%- set found = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier
        ) -%}
    {%- endif -%}
    {%- if found is not none or not execute or relation.is_cte -%}
        {{ relation }}
    {%- else -%}
        (
            select
                {%- for name, type in columns.items() %}
                    cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
                {%- endfor %}
            where false
        )
    {%- endif -%}
{%- endmacro %}
