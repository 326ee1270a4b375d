"""Baselines every model must beat, fitted in the same run on the same data.

- Recency/frequency logistic regression for the classifiers (inputs: log days since the last
  order or since first seen, log lifetime orders, has ordered).
- Naive run-rate for CLTV: revenue of the last 365 days per day of tenure, times the horizon.
- BG/NBD + Gamma-Gamma (pymc-marketing's `clv` module, MAP fit) for purchase counts, P(order),
  P(no order) and CLTV. BTYD models people who have bought: prospects get the prospects'
  first-order rate seen in training (`prospect_rates`), and no churn score (they have no order).

The BTYD models are fitted on one snapshot's history (frequency = repeat orders, recency =
first→last order, T = first order→as-of, in days), which is all they need; they never see labels.
A fit is also a feature maker for LightGBM (`Btyd.features`: P(alive), expected orders within
each label horizon and the expected order value, from any snapshot's history), and pickles as
its fitted parameters so a model carries it to scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from pipeline.lib.shared_values import LABEL_HORIZONS_DAYS

BTYD_FEATURES = [
    "btyd_p_alive",
    *(f"btyd_orders_{h}d" for h in LABEL_HORIZONS_DAYS),
    "btyd_order_value",
]


def _rf_inputs(frame: pd.DataFrame) -> np.ndarray:
    since = frame["days_since_last_order"].fillna(frame["days_since_first_seen"])
    return np.column_stack(
        [
            np.log1p(since.clip(lower=0).to_numpy()),
            np.log1p(frame["orders_lifetime"].fillna(0).to_numpy()),
            frame["has_ordered"].astype(float).to_numpy(),
        ]
    )


@dataclass
class RecencyFrequencyLogistic:
    """P(label) from recency and frequency alone."""

    model: LogisticRegression | None = None

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> RecencyFrequencyLogistic:
        self.model = LogisticRegression(max_iter=1000).fit(_rf_inputs(frame), y)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(_rf_inputs(frame))[:, 1]


def run_rate(frame: pd.DataFrame, horizon: int) -> np.ndarray:
    """Expected revenue in `horizon` days if the customer keeps last year's daily spend."""
    tenure = frame["days_since_first_seen"].clip(lower=1, upper=365)
    return (frame["revenue_365d"].fillna(0).clip(lower=0) / tenure * horizon).to_numpy()


@dataclass(frozen=True)
class RunRate:
    """The run-rate as a scorer of one horizon, so it can be registered and served like a
    model when it is the best CLTV scorer of a training run."""

    horizon: int

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return run_rate(frame, self.horizon)


def btyd_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """BG/NBD and Gamma-Gamma inputs of customers with an order, in days."""
    buyers = frame.loc[frame["has_ordered"]]
    first = buyers["days_since_first_order"].clip(lower=0)
    last = buyers["days_since_last_order"].clip(lower=0)
    frequency = (buyers["orders_lifetime"] - 1).clip(lower=0)
    return pd.DataFrame(
        {
            "customer_id": np.arange(len(buyers)),
            "frequency": frequency.to_numpy(),
            "recency": np.where(frequency > 0, (first - last).clip(lower=0), 0.0),
            # T must be positive and at least recency; an order placed on the as-of day is 0.
            "T": np.maximum(first.to_numpy(), 0.5),
            "monetary_value": buyers["avg_order_value"].fillna(0).clip(lower=0.01).to_numpy(),
        },
        index=buyers.index,
    )


@dataclass
class Btyd:
    """BG/NBD + Gamma-Gamma fitted (MAP) on one snapshot's order history."""

    bgnbd: object
    gamma_gamma: object
    prospect_rates: dict[int, float]
    """Horizon (days) → share of prospects who placed a first order within it (training)."""

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, prospect_rates: dict[int, float], max_customers: int = 20_000
    ) -> Btyd:
        """MAP fit on the snapshot's buyers, at most `max_customers` of them (a fixed sample):
        the models have four population parameters each, which a sample pins down as well as
        everyone, and the fit's cost grows with the customers it sees."""
        # Imported here: pymc-marketing takes seconds to import, and only BTYD needs it.
        from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

        data = btyd_inputs(frame)
        if len(data) > max_customers:
            data = data.sample(max_customers, random_state=0)
        if len(data) < 2 or (data["frequency"] > 0).sum() < 2:
            raise ValueError("BG/NBD needs at least two customers with repeat orders")
        with quickly_compiled_graphs():
            bgnbd = BetaGeoModel()
            bgnbd.fit(data[["customer_id", "frequency", "recency", "T"]], method="map",
                      progressbar=False)  # fmt: skip
            repeat = data.loc[data["frequency"] > 0]
            gamma_gamma = GammaGammaModel()
            gamma_gamma.fit(repeat[["customer_id", "frequency", "monetary_value"]],
                            method="map", progressbar=False)  # fmt: skip
        return cls(bgnbd, gamma_gamma, prospect_rates)

    @classmethod
    def fit_if_possible(cls, frame: pd.DataFrame, prospect_rates: dict[int, float]) -> Btyd | None:
        """`fit`, or None when the snapshot has too few repeat buyers for BG/NBD."""
        try:
            return cls.fit(frame, prospect_rates)
        except ValueError:
            return None

    def predict(self, frame: pd.DataFrame, horizon: int) -> pd.DataFrame:
        """Per row of `frame`: expected orders and revenue in `horizon` days, P(≥1 order) and
        P(no order); prospects get their horizon's first-order rate and no churn probability."""
        prospect_rate = self.prospect_rates.get(horizon, 0.0)
        data = btyd_inputs(frame)
        out = pd.DataFrame(index=frame.index, dtype=float)
        out["p_order"] = prospect_rate
        out["p_no_order"] = np.nan
        out["expected_orders"] = prospect_rate
        out["expected_revenue"] = 0.0
        if data.empty:
            return out
        with quickly_compiled_graphs():
            p_none = _flat(self.bgnbd.expected_probability_no_purchase(t=horizon, data=data))
            orders = _flat(self.bgnbd.expected_purchases(data=data, future_t=horizon))
            spend = _flat(self.gamma_gamma.expected_customer_spend(data=data))
        out.loc[data.index, "p_no_order"] = p_none
        out.loc[data.index, "p_order"] = 1 - p_none
        out.loc[data.index, "expected_orders"] = orders
        out.loc[data.index, "expected_revenue"] = np.maximum(orders * spend, 0.0)
        prospects_spend = float(np.median(spend))
        out.loc[~frame["has_ordered"], "expected_revenue"] = prospect_rate * prospects_spend
        return out

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`BTYD_FEATURES` per row of `frame` (any snapshots): null for prospects."""
        out = pd.DataFrame(np.nan, index=frame.index, columns=BTYD_FEATURES)
        data = btyd_inputs(frame)
        if data.empty:
            return out
        rows = data.index
        with quickly_compiled_graphs():
            out.loc[rows, "btyd_p_alive"] = _flat(self.bgnbd.expected_probability_alive(data=data))
            for h in LABEL_HORIZONS_DAYS:
                orders = self.bgnbd.expected_purchases(data=data, future_t=h)
                out.loc[rows, f"btyd_orders_{h}d"] = _flat(orders)
            spend = self.gamma_gamma.expected_customer_spend(data=data)
        out.loc[rows, "btyd_order_value"] = _flat(spend)
        return out

    def __getstate__(self) -> dict:
        # The fitted models hold compiled graphs that do not pickle; their fits do.
        return {"bgnbd": self.bgnbd.idata, "gamma_gamma": self.gamma_gamma.idata,
                "prospect_rates": self.prospect_rates}  # fmt: skip

    def __setstate__(self, state: dict) -> None:
        from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

        self.bgnbd = BetaGeoModel.load_from_idata(state["bgnbd"])
        self.gamma_gamma = GammaGammaModel.load_from_idata(state["gamma_gamma"])
        # Loading from a fit does not keep the model it builds; predictions need one.
        with quickly_compiled_graphs():
            self.bgnbd.build_model()
            self.gamma_gamma.build_model()
        self.prospect_rates = state["prospect_rates"]


def quickly_compiled_graphs():
    """The BTYD models' graphs compiled without C code and with pytensor's short list of graph
    rewrites. Each fit compiles its graphs anew, and compiling is most of a fit's time (a C
    build and a full rewrite pass per graph): a BG/NBD and Gamma-Gamma fit on 20,000 customers
    takes 8.6 s instead of 13.1 s, with the same parameters and predictions to 1e-9."""
    import pytensor

    return pytensor.config.change_flags(mode="FAST_COMPILE")


def _flat(values) -> np.ndarray:
    """A MAP fit's (chain=1, draw=1, customer) array as one vector."""
    return np.asarray(values).reshape(-1)
