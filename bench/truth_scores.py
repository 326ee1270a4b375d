"""The ceiling: scores computed from each customer's true simulated traits, as of a test date.

The sandbox store is viewed with its clock at the test snapshot (`StoreView(store, now=D)`), so
the truth (`sandbox.shop.truth`) uses only the history before D plus the latent traits —
no model can know more. Grain of `truth_scores`: one row per warehouse customer_id whose
identities resolve to a simulated person known at D.

Under the simulator's story, while alive a person orders at rate λ, and dropout only follows
an order, so P(≥ 1 order within h) = P(alive) · (1 − e^{−λh}) exactly.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sandbox.shop.store import StoreView
from sandbox.shop.truth import HORIZONS, truth_frame

# Warehouse customer → simulated person, through the identities dbt resolved: a Shopify
# account (duplicate accounts included) or a Klaviyo profile.
_PEOPLE_SQL = """
select i.customer_id, min(coalesce(s.person_id, p.person_id)) as person_id
from wh.intermediate.int_customer_identities as i
left join store.shopify_customers as s
    on i.source_system = 'shopify' and i.source_id = cast(s.customer_id as varchar)
left join store.people as p
    on i.source_system = 'klaviyo' and i.source_id = profile_id(p.person_id)
group by i.customer_id
having count(distinct coalesce(s.person_id, p.person_id)) = 1
"""


def customer_people(store: Path, warehouse: Path) -> pd.DataFrame:
    """customer_id → person_id for every customer that resolves to exactly one person."""
    view = StoreView(store, datetime(2100, 1, 1))
    try:
        with view.cursor() as cur:
            cur.execute(f"attach '{warehouse}' as wh (read_only)")
            return cur.execute(_PEOPLE_SQL).df()
    finally:
        view.close()


def truth_scores(store: Path, people: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per customer known at `as_of`: true P(order within h) and P(no order within h) for
    every horizon h, true expected net revenue for the truth's horizons, and the category of
    their strongest taste."""
    view = StoreView(store, as_of.to_pydatetime())
    try:
        truth = truth_frame(view)
    finally:
        view.close()
    out = people.merge(truth, on="person_id", how="inner", suffixes=("", "_shopify"))
    frame = pd.DataFrame({"customer_id": out["customer_id"], "top_category": out["top_category"]})
    for h in HORIZONS:
        frame[f"p_order_{h}"] = out["p_alive"] * (1 - np.exp(-out["purchase_rate"] * h))
        frame[f"p_no_order_{h}"] = 1 - frame[f"p_order_{h}"]
        frame[f"revenue_{h}"] = out[f"expected_revenue_{h}"]
    return frame
