{#-
    Models land in exactly the schema their folder configures (`staging`, `intermediate`,
    `marts`), not dbt's default `<target schema>_<custom schema>` (which would give
    `main_staging`): other code (ML, activation, analysts) reads these names as they are.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
