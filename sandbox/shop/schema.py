"""DDL of the generated store file (see `simulator` for what each table's rows are)."""

from collections.abc import Sequence

_STORE_DDL = """
create table meta (key varchar primary key, value varchar);
create table people (
    -- true latent traits, exported as ground truth; never served by the APIs
    person_id bigint, email varchar, email_state varchar, first_name varchar, last_name varchar,
    phone varchar, signup_at timestamp, signup_at_checkout boolean, purchase_rate double,
    dropout_prob double, dropout_at timestamp, spend_rate double, spend_shape double,
    email_engagement double, preferred_hour integer, {taste_columns}
);
create table shopify_customers (
    customer_id bigint, person_id bigint, email varchar, first_name varchar, last_name varchar,
    phone varchar, created_at timestamp, is_duplicate boolean
);
create table products (
    product_id bigint, variant_id bigint, title varchar, product_type varchar, vendor varchar,
    sku varchar, price decimal(10, 2), created_at timestamp, updated_at timestamp
);
create table orders (
    order_id bigint, person_id bigint, customer_id bigint, email varchar, created_at timestamp,
    tz_offset_minutes integer, subtotal decimal(12, 2), total_discounts decimal(12, 2),
    total_price decimal(12, 2), discount_code varchar, refund_amount decimal(12, 2),
    refunded_at timestamp, test boolean
);
create table order_lines (
    line_id bigint, order_id bigint, product_id bigint, variant_id bigint, title varchar,
    sku varchar,
    quantity integer, unit_price decimal(10, 2)
);
create table checkouts (
    checkout_id bigint, person_id bigint, customer_id bigint, email varchar,
    created_at timestamp, total_price decimal(12, 2)
);
create table checkout_lines (
    line_id bigint, checkout_id bigint, product_id bigint, variant_id bigint, title varchar,
    sku varchar,
    quantity integer, unit_price decimal(10, 2)
);
create table consent_changes (
    person_id bigint, changed_at timestamp, state varchar, method varchar, suppression varchar
);
create table campaigns (campaign_id integer, name varchar, category varchar, sent_at timestamp);
create table metrics (
    metric_index smallint, metric_id varchar, name varchar, integration_name varchar,
    integration_category varchar, created timestamp
);
create table events (
    event_id bigint, person_id bigint, metric_index smallint, occurred_at timestamp,
    tz_offset_minutes integer, value double, campaign_id integer, product_id bigint,
    order_id bigint, detail varchar
);
"""


def store_ddl(category_names: Sequence[str]) -> str:
    """The DDL for a shop whose people have one true taste column per category."""
    taste_columns = ", ".join(f"taste_{name} double" for name in category_names)
    return _STORE_DDL.format(taste_columns=taste_columns)
