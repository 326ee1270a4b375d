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

Shapes with regular gaps (Erlang(k) with rate kλ, mean 1/λ) use the Erlang survival S(Δ) =
e^{-kλΔ} Σ_{n<k} (kλΔ)^n / n! in place of e^{-λΔ}: P(alive) as above with S, and P(order within
h | alive) = 1 - S(Δ+h)/S(Δ) for people with an order (their next gap has run for Δ days).
Expected purchases keep the Poisson form with the same mean rate, the long-run renewal rate.

Expected revenue is expected purchases times the person's expected order value as the
simulator prices orders (`order_value`: whole units at catalogue prices lift cheap draws and cap
large ones), net of the expected codes and refunds; a prospect's first order within the horizon,
with probability 1 - e^{-λh}, carries a first-order code more often than a repeat order.
"""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd

from sandbox.shop.order_value import expected_order_values
from sandbox.shop.shapes import ShopShape
from sandbox.shop.store import StoreView
from sandbox.shop.store_tables import CUSTOMER_ID_BASE

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
        v.expected_subtotal,
        v.first_net_share,
        v.repeat_net_share,
        coalesce(h.orders_before_now, 0) as orders_before_now,
        h.last_order_at,
        date_diff('second', h.last_order_at, $now) / 86400.0 as days_since_last_order
    from store.people as p
    left join history as h on p.person_id = h.person_id
    inner join order_values as v on p.person_id = v.person_id
    where p.signup_at < $now
),
alive as (
    select
        *,
        case
            when orders_before_now = 0 then 1.0
            else (1 - dropout_prob) * {survival_since_last} / (
                (1 - dropout_prob) * {survival_since_last} + dropout_prob
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
    a.expected_subtotal as expected_order_value,
    a.email_engagement,
    a.preferred_hour,
    {taste_columns},
    [{category_names}][list_position(
        [{taste_columns}],
        greatest({taste_columns})
    )] as top_category,
    a.orders_before_now,
    a.last_order_at,
    a.dropout_at is null or a.dropout_at >= $now as alive_at_now,
    a.p_alive,
    {expected_columns},
    a.p_alive * {p_order_30} as p_order_30,
    1 - a.p_alive * {p_order_90} as p_no_order_90,
    {actual_columns}
from alive as a
left join future as f on a.person_id = f.person_id
order by a.person_id
"""


def _erlang_survival(days: str, phases: int) -> str:
    """SQL for P(an Erlang(phases, rate phases·λ) gap exceeds `days`), λ = `purchase_rate`."""
    x = f"({phases} * purchase_rate * ({days}))"
    terms = " + ".join(f"pow({x}, {n}) / {math.factorial(n)}" for n in range(phases))
    return f"(exp(-{x}) * ({terms}))"


def _order_within(days: int, phases: int) -> str:
    """SQL for P(an order within `days` | alive), from each person's time since last order."""
    if phases == 1:
        return f"(1 - exp(-{days} * a.purchase_rate))"
    since = "coalesce(a.days_since_last_order, 0)"
    survival_now = _erlang_survival(since, phases)
    survival_later = _erlang_survival(f"{since} + {days}", phases)
    return (
        f"(case when a.orders_before_now = 0 then 1 - exp(-{days} * a.purchase_rate)"
        f" else 1 - {survival_later} / greatest({survival_now}, 1e-300) end)"
    )


def _expected_purchases(h: int) -> str:
    """SQL for expected orders within `h` days: P(alive) × E[orders in h | alive]."""
    return f"a.p_alive * (1 - exp(-a.purchase_rate * a.dropout_prob * {h})) / a.dropout_prob"


def _expected_revenue(h: int) -> str:
    """SQL for expected net revenue within `h` days: expected orders times the expected order
    value, net of codes and refunds; a prospect's first order is discounted more often."""
    orders = _expected_purchases(h)
    first_within = f"(1 - exp(-a.purchase_rate * {h}))"
    first_extra = f"(a.first_net_share - a.repeat_net_share) * {first_within}"
    return (
        f"a.expected_subtotal * ({orders} * a.repeat_net_share"
        f" + case when a.orders_before_now = 0 then {first_extra} else 0 end)"
    )


def _sql(shape: ShopShape) -> str:
    future = ",\n        ".join(
        f"count(*) filter (where created_at < $now + interval {h} day) as orders_{h}, "
        f"sum(total_price - refund_amount) filter (where created_at < $now + interval {h} day)"
        f" as revenue_{h}"
        for h in HORIZONS
    )
    expected = ",\n    ".join(
        f"{_expected_purchases(h)} as expected_purchases_{h},"
        f" {_expected_revenue(h)} as expected_revenue_{h}"
        for h in HORIZONS
    )
    observed = "$now + interval {h} day <= $simulated_until"
    actual = ",\n    ".join(
        f"case when {observed.format(h=h)} then coalesce(f.orders_{h}, 0) end"
        f" as actual_orders_{h}, case when {observed.format(h=h)} then"
        f" coalesce(f.revenue_{h}, 0)::double end as actual_revenue_{h}"
        for h in HORIZONS
    )
    phases = shape.gap_regularity
    survival = (
        "exp(-purchase_rate * days_since_last_order)"
        if phases == 1
        else _erlang_survival("days_since_last_order", phases)
    )
    return _TRUTH_SQL.format(
        survival_since_last=survival,
        taste_columns=", ".join(f"a.taste_{name}" for name in shape.category_names),
        category_names=", ".join(f"'{name}'" for name in shape.category_names),
        p_order_30=_order_within(30, phases),
        p_order_90=_order_within(90, phases),
        future_columns=future,
        expected_columns=expected,
        actual_columns=actual,
        customer_id_base=CUSTOMER_ID_BASE,
    )


def _params(view: StoreView) -> dict:
    until = datetime.combine(view.spec.simulated_until, datetime.min.time())
    return {"now": view.now, "simulated_until": until}


def _register_order_values(view: StoreView, cur) -> None:
    """Each person's expected order value (`order_value`) as the table `order_values`."""
    shape = view.spec.shop
    taste = ", ".join(f"taste_{name}" for name in shape.category_names)
    people = cur.execute(
        f"select person_id, spend_rate, {taste} from store.people order by person_id"
    ).df()
    cur.register("order_values", expected_order_values(view.spec.seed, shape, people))


def truth_frame(view: StoreView) -> pd.DataFrame:
    """One row per person known at `view.now`, with model truth and realised truth."""
    with view.cursor() as cur:
        _register_order_values(view, cur)
        return cur.execute(_sql(view.spec.shop), _params(view)).df()


def write_truth(view: StoreView, out: str) -> int:
    """Write the truth export as Parquet; returns the number of customers written."""
    with view.cursor() as cur:
        _register_order_values(view, cur)
        sql = _sql(view.spec.shop)
        cur.execute(f"copy ({sql}) to '{out}' (format parquet)", _params(view))
        (rows,) = cur.execute(f"select count(*) from read_parquet('{out}')").fetchall()[0]
    return rows
