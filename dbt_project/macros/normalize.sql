{#- Cleaning rules shared by every staging model, so each source normalises the same way. -#}

{#- An email as a matching key: trimmed and lower-cased; blank is missing. -#}
{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#- Whether a normalised email looks deliverable (one @, a dot in the domain, no spaces).
    Deliberately loose: it catches the typical dirt ("name@gmail", "n/a"), not every RFC case. -#}
{% macro is_valid_email(normalized) -%}
    coalesce(regexp_full_match({{ normalized }}, '[^@\s]+@[^@\s]+\.[a-z0-9-]{2,}'), false)
{%- endmacro %}

{#- The usable email: the normalised address when it is valid, else null. -#}
{% macro clean_email(column) -%}
    case
        when {{ is_valid_email(normalize_email(column)) }} then {{ normalize_email(column) }}
    end
{%- endmacro %}

{#- True when the source held an address that is not usable (the row keeps a flag, not the
    value). -#}
{% macro has_invalid_email(column) -%}
    ({{ normalize_email(column) }} is not null and not {{ is_valid_email(normalize_email(column)) }})
{%- endmacro %}

{#- A phone number as digits with a leading "+" when it had one; blank is missing. -#}
{% macro normalize_phone(column) -%}
    nullif(regexp_replace(trim({{ column }}), '[^0-9+]', '', 'g'), '')
{%- endmacro %}

{#- Trimmed text; blank is missing. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- The numeric tail of a Shopify GID ("gid://shopify/Customer/123" -> "123"). -#}
{% macro strip_gid(column) -%}
    nullif(regexp_extract({{ column }}, '([^/]+)$', 1), '')
{%- endmacro %}

{#- An ISO 8601 text timestamp as a naive UTC timestamp, the warehouse's convention: a value
    with an explicit offset ("+05:30", "Z") is converted to UTC, one without is taken as UTC
    (never as the session's local time). Mirrors `pipeline.lib.ingest.record_sql`. -#}
{% macro to_utc_timestamp(text) -%}
    case
        when regexp_matches(
            {{ text }}, '\d:\d\d(:\d\d(\.\d+)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?)$'
        ) then timezone('UTC', try_cast({{ text }} as timestamptz))
        else try_cast({{ text }} as timestamp)
    end
{%- endmacro %}

{#- A Shopify MoneyBag (`totalPriceSet`) as a number in the shop's currency. -#}
{% macro shop_money(record, path) -%}
    try_cast(json_extract_string({{ record }}, '$.{{ path }}.shopMoney.amount') as decimal(18, 2))
{%- endmacro %}
