{#-
    The point-in-time rule in one place: a record counts for a feature as of a date only when it
    happened strictly before that date. Every feature condition goes through this macro, so the
    leakage test can prove the rule by overriding it to peek one day ahead.
-#}
{% macro before_as_of(happened, as_of) -%}
    {{ happened }} < {{ as_of }}
{%- endmacro %}
