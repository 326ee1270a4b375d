"""Values more than one stage relies on, defined once as vars in `dbt_project/dbt_project.yml`
and read here by the Python side.

dbt uses them in SQL (label windows, snapshot days, segment thresholds); training, scoring and
the backtest use the same numbers through this module, so a profile's tier and its segment
cannot disagree and a label column the trainer asks for is one the mart builds.
"""

from __future__ import annotations

import calendar
from functools import cache
from typing import Any

import yaml

from pipeline.lib.settings import PROJECT_ROOT

DBT_PROJECT_FILE = PROJECT_ROOT / "dbt_project" / "dbt_project.yml"


@cache
def dbt_vars() -> dict[str, Any]:
    """The project's dbt vars as declared (what every dbt run uses unless `--vars` overrides)."""
    with DBT_PROJECT_FILE.open() as file:
        return yaml.safe_load(file)["vars"]


def _var(name: str) -> Any:
    try:
        return dbt_vars()[name]
    except KeyError:
        raise KeyError(f"dbt var {name!r} is not declared in {DBT_PROJECT_FILE}") from None


# Label windows `marts.customer_labels` builds, and the ML tasks' default horizons among them.
LABEL_HORIZONS_DAYS: tuple[int, ...] = tuple(sorted(_var("label_horizons_days")))
PURCHASE_HORIZON_DAYS: int = _var("purchase_horizon_days")
CHURN_HORIZON_DAYS: int = _var("churn_horizon_days")
CLTV_HORIZON_DAYS: int = _var("cltv_horizon_days")

# Feature snapshots older than the daily window exist on this ISO weekday only (1 = Monday).
SNAPSHOT_ISODOW: int = _var("feature_snapshot_isodow")
SNAPSHOT_WEEKDAY_NAME: str = calendar.day_name[SNAPSHOT_ISODOW - 1]

# Probability tiers: the scores' `churn_tier` / `purchase_tier` and the churn_risk_* and
# purchase_propensity_* segments start at the same cut-offs.
CHURN_HIGH_MIN_PROBABILITY: float = _var("segment_churn_high_min_probability")
CHURN_MEDIUM_MIN_PROBABILITY: float = _var("segment_churn_medium_min_probability")
PURCHASE_HIGH_MIN_PROBABILITY: float = _var("segment_purchase_high_min_probability")
PURCHASE_MEDIUM_MIN_PROBABILITY: float = _var("segment_purchase_medium_min_probability")
