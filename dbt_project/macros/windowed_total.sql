{#-
    For the feature model: the change of a running total between two ASOF lookups of the same
    activity model (`<family>_now` and `<family>_<window>`), i.e. the total over the window.
-#}
{% macro windowed_total(family, column, window) -%}
    coalesce({{ family }}_now.cumulative_{{ column }}, 0)
    - coalesce({{ family }}_{{ window }}.cumulative_{{ column }}, 0)
{%- endmacro %}
