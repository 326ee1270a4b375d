"""Quality checks of one day's `ml.customer_scores` (grain: customer × as_of_date).

Each check returns (passed, numbers for the UI). Blocking in Dagster: scores that fail one do
not reach segments or syncs.
"""

from __future__ import annotations

from datetime import date

import duckdb

from pipeline.lib.modeling.evaluate import psi
from pipeline.lib.modeling.scoring import SCORES

PROBABILITIES = ("churn_probability", "purchase_probability")
REQUIRED = ("customer_id", "purchase_probability", "cltv_predicted", "model_version",
            "score_source", "scored_at")  # fmt: skip


def scores_in_range(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[bool, dict]:
    bad_probability = " or ".join(f"{c} not between 0 and 1" for c in PROBABILITIES)
    (bad,) = con.execute(
        f"""select count(*) from {SCORES} where as_of_date = ? and ({bad_probability}
            or cltv_predicted < 0 or cltv_p10 > cltv_p90 or cltv_p10 < 0)""",
        [as_of],
    ).fetchone()
    return bad == 0, {"rows_out_of_range": bad}


def scores_not_null(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[bool, dict]:
    nulls = " + ".join(f"count(*) filter (where {c} is null)" for c in REQUIRED)
    (missing, churn_missing) = con.execute(
        f"""select {nulls}, count(*) filter (
                where churn_probability is null and expected_next_order_date is not null)
            from {SCORES} where as_of_date = ?""",
        [as_of],
    ).fetchone()
    return missing + churn_missing == 0, {
        "null_required_values": missing,
        "buyers_without_churn": churn_missing,
    }


def one_row_per_customer(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[bool, dict]:
    rows, customers, features = con.execute(
        f"""select count(*), count(distinct customer_id),
            (select count(*) from marts.customer_features where as_of_date = ?)
            from {SCORES} where as_of_date = ?""",
        [as_of, as_of],
    ).fetchone()
    return rows == customers == features, {"rows": rows, "customers": features}


def score_shift(con: duckdb.DuckDBPyConnection, as_of: date, threshold: float) -> tuple[bool, dict]:
    """PSI of each probability against the previous scoring day (passes with none yet)."""
    (previous,) = con.execute(
        f"select max(as_of_date) from {SCORES} where as_of_date < ?", [as_of]
    ).fetchone()
    if previous is None:
        return True, {"previous_as_of_date": "none"}
    numbers = {"previous_as_of_date": str(previous), "threshold": threshold}
    for column in PROBABILITIES:
        old, new = (
            con.execute(
                f"select {column} from {SCORES} where as_of_date = ? and {column} is not null",
                [day],
            ).fetchnumpy()[column]
            for day in (previous, as_of)
        )
        numbers[f"psi_{column}"] = psi(old, new) if len(old) and len(new) else 0.0
    worst = max(v for k, v in numbers.items() if k.startswith("psi_"))
    return worst <= threshold, numbers
