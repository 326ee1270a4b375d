"""Ground truth about each customer's future after `now`, for measuring predictions honestly.

Grain: one row per person known at `now` (signed up before it). Two kinds of truth:
- model truth, computed from the person's latent traits and their history before `now` (never
  from the realised future): probability alive, expected purchases, P(order within 30 days),
  P(no order within 90 days), expected net revenue — the ceiling any model can reach;
- realised truth: the orders and net revenue they actually placed in the next 30/90/365 days,
  null for a horizon that runs past the end of the simulation (a clock moved into the future).

Under the simulator's individual BG/NBD story (Poisson rate λ while alive, dropout p after each
order): P(alive | last order Δ days ago) = (1-p)e^{-λΔ} / ((1-p)e^{-λΔ} + p), and 1 with no
order yet (dropout only follows an order); E[orders in t | alive] = (1 - e^{-λpt}) / p.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from sandbox.shop.behaviour import expected_net_share_of_repeat_order
from sandbox.shop.simulator import CUSTOMER_ID_BASE
from sandbox.shop.store import StoreView

HORIZONS = (30, 90, 365)

_TRUTH_SQL = """
with history as (
    select person_id, count(*) as orders_before_now, max(created_at) as last_order_at
    from store.orders
    where not test and created_at < $now
    group by person_id
),
future as (
    select
        person_id,
        {future_columns}
    from store.orders
    where not test and created_at >= $now and created_at < $now + interval 365 day
    group by person_id
),
state as (
    select
        p.*,
        coalesce(h.orders_before_now, 0) as orders_before_now,
        h.last_order_at,
        date_diff('second', h.last_order_at, $now) / 86400.0 as days_since_last_order
    from store.people as p
    left join history as h on p.person_id = h.person_id
    where p.signup_at < $now
),
alive as (
    select
        *,
        case
            when orders_before_now = 0 then 1.0
            else (1 - dropout_prob) * exp(-purchase_rate * days_since_last_order) / (
                (1 - dropout_prob) * exp(-purchase_rate * days_since_last_order) + dropout_prob
            )
        end as p_alive
    from state
)
select
    a.person_id,
    {customer_id_base} + a.person_id as customer_id,
    profile_id(a.person_id) as profile_id,
    lower(trim(a.email)) as email,
    a.signup_at,
    a.purchase_rate,
    a.dropout_prob,
    a.spend_shape / a.spend_rate as expected_order_value,
    a.email_engagement,
    a.preferred_hour,
    a.taste_coffee, a.taste_tea, a.taste_equipment, a.taste_gifts,
    ['coffee', 'tea', 'equipment', 'gifts'][list_position(
        [a.taste_coffee, a.taste_tea, a.taste_equipment, a.taste_gifts],
        greatest(a.taste_coffee, a.taste_tea, a.taste_equipment, a.taste_gifts)
    )] as top_category,
    a.orders_before_now,
    a.last_order_at,
    a.dropout_at is null or a.dropout_at >= $now as alive_at_now,
    a.p_alive,
    {expected_columns},
    a.p_alive * (1 - exp(-30 * a.purchase_rate)) as p_order_30,
    1 - a.p_alive * (1 - exp(-90 * a.purchase_rate)) as p_no_order_90,
    {actual_columns}
from alive as a
left join future as f on a.person_id = f.person_id
order by a.person_id
"""


def _sql() -> str:
    net = expected_net_share_of_repeat_order()
    future = ",\n        ".join(
        f"count(*) filter (where created_at < $now + interval {h} day) as orders_{h}, "
        f"sum(total_price - refund_amount) filter (where created_at < $now + interval {h} day)"
        f" as revenue_{h}"
        for h in HORIZONS
    )
    expected = ",\n    ".join(
        f"a.p_alive * (1 - exp(-a.purchase_rate * a.dropout_prob * {h})) / a.dropout_prob"
        f" as expected_purchases_{h}, a.p_alive * (1 - exp(-a.purchase_rate * a.dropout_prob"
        f" * {h})) / a.dropout_prob * a.spend_shape / a.spend_rate * {net}"
        f" as expected_revenue_{h}"
        for h in HORIZONS
    )
    observed = "$now + interval {h} day <= $simulated_until"
    actual = ",\n    ".join(
        f"case when {observed.format(h=h)} then coalesce(f.orders_{h}, 0) end"
        f" as actual_orders_{h}, case when {observed.format(h=h)} then"
        f" coalesce(f.revenue_{h}, 0)::double end as actual_revenue_{h}"
        for h in HORIZONS
    )
    return _TRUTH_SQL.format(
        future_columns=future,
        expected_columns=expected,
        actual_columns=actual,
        customer_id_base=CUSTOMER_ID_BASE,
    )


def _params(view: StoreView) -> dict:
    until = datetime.combine(view.spec.simulated_until, datetime.min.time())
    return {"now": view.now, "simulated_until": until}


def truth_frame(view: StoreView) -> pd.DataFrame:
    """One row per person known at `view.now`, with model truth and realised truth."""
    with view.cursor() as cur:
        return cur.execute(_sql(), _params(view)).df()


def write_truth(view: StoreView, out: str) -> int:
    """Write the truth export as Parquet; returns the number of customers written."""
    with view.cursor() as cur:
        cur.execute(f"copy ({_sql()}) to '{out}' (format parquet)", _params(view))
        (rows,) = cur.execute(f"select count(*) from read_parquet('{out}')").fetchall()[0]
    return rows
