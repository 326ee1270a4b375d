"""Train → register → score → check on a warehouse holding contract-shaped feature/label marts."""

import dataclasses
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline.lib.modeling import quality, steps
from pipeline.lib.modeling.baselines import Btyd, RecencyFrequencyLogistic
from pipeline.lib.modeling.datasets import LABEL_COLUMNS, censor_labels, load_scoring_frame
from pipeline.lib.modeling.registry import load_model
from pipeline.lib.modeling.scoring import TierThresholds
from pipeline.lib.modeling.steps import score_and_write, train_and_register
from pipeline.lib.modeling.training_run import RunConfig
from tests.lib.modeling.conftest import FAST
from tests.lib.modeling.synthetic import CATEGORIES, synthetic_frame


@pytest.fixture(scope="module")
def small():
    return synthetic_frame(customers=600, weeks=34, seed=5)


@pytest.fixture(scope="module")
def warehouse(small, tmp_path_factory):
    con = marts_warehouse(small, tmp_path_factory.mktemp("wh") / "warehouse.duckdb")
    yield con
    con.close()


def marts_warehouse(frame: pd.DataFrame, path) -> duckdb.DuckDBPyConnection:
    """A warehouse whose feature, label and category marts hold `frame`."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    features = frame.drop(columns=LABEL_COLUMNS).assign(
        as_of_date=frame["as_of_date"].dt.date,
        top_category=frame["top_category"].astype(object),
        email_consent=frame["email_consent"].astype(object),
    )
    labels = frame[["customer_id", "as_of_date", *LABEL_COLUMNS]].assign(
        as_of_date=frame["as_of_date"].dt.date,
        next_order_category=frame["next_order_category"].astype(object),
    )
    con.register("features", features)
    con.register("labels", labels)
    con.execute("create table marts.customer_features as select * from features")
    con.execute("create table marts.customer_labels as select * from labels")
    con.execute(
        "create table marts.shop_categories as select unnest(?) as category, "
        "generate_subscripts(?, 1) as category_rank",
        [list(CATEGORIES), list(CATEGORIES)],
    )
    return con


CONFIG = RunConfig(
    cltv_horizon=90, params=FAST, max_train_snapshots=6, fit_btyd=False, btyd_features=False
)


def test_train_score_and_check_end_to_end(warehouse, tmp_path):
    con = warehouse
    first = train_and_register(con, CONFIG, tmp_path)
    assert first.report_path.exists()
    assert {r["task"] for r in first.rows} == {"purchase", "churn", "cltv", "category"}
    again = train_and_register(con, CONFIG, tmp_path)  # same data and config: same version
    assert again.version == first.version
    (runs,) = con.execute("select count(*) from ml.model_runs").fetchone()
    assert runs == 4
    champions = con.execute(
        "select task, decision from ml.model_runs where is_champion order by task"
    ).fetchall()
    assert [t for t, _ in champions] == sorted(r["task"] for r in first.rows if r["is_champion"])
    assert {"churn", "purchase"} <= {t for t, _ in champions}

    as_of = con.execute("select max(as_of_date) from marts.customer_features").fetchone()[0]
    summary = score_and_write(con, TierThresholds())
    assert summary.as_of == as_of and summary.purchase_psi is None
    score_and_write(con, TierThresholds())  # idempotent for the date
    assert con.execute("select count(*) from ml.customer_scores").fetchone() == (summary.rows,)
    (earlier,) = con.execute(
        "select max(as_of_date) from marts.customer_features where as_of_date < ?", [as_of]
    ).fetchone()
    score_and_write(con, TierThresholds(), as_of=earlier)
    for check in (quality.scores_in_range, quality.scores_not_null, quality.one_row_per_customer):
        passed, numbers = check(con, as_of)
        assert passed, (check.__name__, numbers)
    passed, numbers = quality.score_shift(con, as_of, threshold=0.25)
    assert passed and numbers["previous_as_of_date"] == str(earlier)
    con.execute("update ml.customer_scores set purchase_probability = 0.99 where as_of_date = ?",
                [as_of])  # fmt: skip
    assert not quality.score_shift(con, as_of, threshold=0.25)[0]


def test_without_a_promoted_model_the_best_baseline_of_the_run_serves(small, tmp_path, monkeypatch):
    """LightGBM that cannot split (every leaf needs more rows than there are) loses to every
    baseline: each task's best baseline becomes its champion and scoring reuses it as fitted."""
    con = marts_warehouse(small, tmp_path / "warehouse.duckdb")
    monkeypatch.setattr(steps, "task_plots", lambda result: {})  # plots are tested elsewhere
    params = dataclasses.replace(FAST, min_child_samples=10**7, n_estimators=5)
    train_and_register(con, dataclasses.replace(CONFIG, params=params), tmp_path)
    rows = con.execute(
        "select task, score_source, artefact_path, decision from ml.model_runs where is_champion"
    ).fetchall()
    served = {task: (source, path, decision) for task, source, path, decision in rows}
    assert set(served) == {"purchase", "churn", "cltv", "category"}
    assert served["purchase"][0] == served["churn"][0] == "rf_logistic"
    assert served["cltv"][0] == "run_rate"
    assert served["purchase"][1].endswith("purchase-rf_logistic.pkl")
    # The category model starts from the customer's own mix, so even without a split it is
    # as good as their top category; when it is not better, the top category serves, unpickled.
    assert served["category"][0] in {"lightgbm", "top_category"}
    assert (served["category"][1] is None) == (served["category"][0] == "top_category")
    assert "rf_logistic baseline serves" in served["purchase"][2]

    def no_refit(*args, **kwargs):
        raise AssertionError("scoring refitted a baseline")

    monkeypatch.setattr(RecencyFrequencyLogistic, "fit", no_refit)
    summary = score_and_write(con, TierThresholds())
    assert summary.sources == {"churn": "rf_logistic", "purchase": "rf_logistic",
                               "cltv": "run_rate"}  # fmt: skip
    scores = con.execute(
        "select score_source, purchase_probability, next_best_category from ml.customer_scores"
    ).df()
    assert set(scores["score_source"]) == {"churn:rf_logistic,purchase:rf_logistic,cltv:run_rate"}
    assert scores["purchase_probability"].between(0, 1).all()
    assert scores["purchase_probability"].nunique() > 10
    con.close()


def test_a_backtest_never_sees_labels_after_its_as_of_date(frame):
    as_of = pd.Timestamp("2024-05-01")
    censored = censor_labels(frame, as_of)
    for h in (30, 90, 365):
        seen = censored.loc[censored[f"orders_next_{h}d"].notna(), "as_of_date"]
        assert (seen + pd.Timedelta(days=h) <= as_of).all()
    known = censored["days_to_next_order"].notna()
    next_at = censored["as_of_date"] + pd.to_timedelta(censored["days_to_next_order"], unit="D")
    assert (next_at[known] < as_of).all()
    assert censored.loc[known, "next_order_category"].isin([*CATEGORIES, "other"]).all()


def test_censoring_handles_a_churn_label_known_for_every_row(frame):
    """A CSV-only shop (everyone has ordered) loads `is_churned` as plain bool, no nulls."""
    known = frame.loc[frame["is_churned"].notna()].astype({"is_churned": bool})
    as_of = known["as_of_date"].max()
    censored = censor_labels(known, as_of)
    hidden = censored["as_of_date"] + pd.Timedelta(days=90) > as_of
    assert hidden.any() and censored.loc[hidden, "is_churned"].isna().all()
    assert censored.loc[~hidden, "is_churned"].notna().all()


def test_btyd_scores_with_the_fit_of_the_latest_training_run(small, tmp_path, monkeypatch):
    """Where BTYD serves (CLTV@365 here: 34 weeks label no 365-day window), the daily scoring
    predicts with the fit the training run saved, as of its training date, and refits nothing;
    before any run saved one it fits the day's own history."""
    con = marts_warehouse(small, tmp_path / "warehouse.duckdb")
    monkeypatch.setattr(steps, "task_plots", lambda result: {})  # plots are tested elsewhere
    days = [d for (d,) in con.execute(
        "select distinct as_of_date from marts.customer_features order by 1 desc limit 2"
    ).fetchall()]  # fmt: skip
    own_fit = score_and_write(con, TierThresholds(), as_of=days[1])
    assert own_fit.sources["cltv"] == "btyd"
    before_any_run = _cltv(con, days[1])

    config = dataclasses.replace(CONFIG, cltv_horizon=365)
    train_and_register(con, config, tmp_path, as_of=days[0])
    (params,) = con.execute("select any_value(params) from ml.model_runs").fetchone()
    saved = load_model(json.loads(params)["btyd_artefact_path"])

    def no_refit(*args, **kwargs):
        raise AssertionError("scoring refitted BTYD")

    monkeypatch.setattr(Btyd, "fit", no_refit)
    for day in days:
        assert score_and_write(con, TierThresholds(), as_of=day).sources["cltv"] == "btyd"
        frame = load_scoring_frame(con, day)
        expected = saved.predict(frame, 365)["expected_revenue"].set_axis(frame["customer_id"])
        scored = _cltv(con, day)
        assert np.allclose(scored.to_numpy(), expected.loc[scored.index].to_numpy())
    # The earlier day, first scored with its own fit, now has the run's: not the same numbers.
    assert not np.allclose(_cltv(con, days[1]).to_numpy(), before_any_run.to_numpy())
    con.close()


def _cltv(con, day) -> pd.Series:
    return (
        con.execute(
            "select customer_id, cltv_predicted from ml.customer_scores where as_of_date = ? "
            "order by customer_id",
            [day],
        )
        .df()
        .set_index("customer_id")["cltv_predicted"]
    )
