"""Champion/challenger decisions, the registry table, scoring and its idempotent write."""

import json
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline.lib.alerts.rules import quality_drops
from pipeline.lib.modeling.baselines import RecencyFrequencyLogistic, RunRate
from pipeline.lib.modeling.registry import best_baseline, champion, choose_serving, decide, record
from pipeline.lib.modeling.report import task_plots, write_report
from pipeline.lib.modeling.scoring import TierThresholds, score, write_scores
from pipeline.lib.reporting.model_runs import champions

AS_OF = date(2024, 6, 17)


def _row(version: str, promote: bool) -> dict:
    return {
        "model_version": version, "task": "churn", "as_of_date": AS_OF, "data_start": AS_OF,
        "data_end": AS_OF, "horizon_days": 90, "train_rows": 10, "params": {"seed": 1},
        "metrics": {"log_loss": 0.4}, "baseline_metrics": {}, "features": ["a"],
        "artefact_path": f"/a/{version}", "score_source": "lightgbm", "is_champion": promote,
        "decision": "test",
    }  # fmt: skip


def test_challenger_must_beat_baselines_and_not_trail_the_champion():
    baselines = {"rf_logistic": {"log_loss": 0.50, "roc_auc": 0.70}}
    assert decide("churn", {"log_loss": 0.45, "roc_auc": 0.71}, baselines, None, 0.02).promote
    lost = decide("churn", {"log_loss": 0.55, "roc_auc": 0.71}, baselines, None, 0.02)
    assert not lost.promote and "rf_logistic" in lost.reason
    ranks_worse = decide("churn", {"log_loss": 0.45, "roc_auc": 0.69}, baselines, None, 0.02)
    assert not ranks_worse.promote and "roc_auc" in ranks_worse.reason
    challenger = {"log_loss": 0.45, "roc_auc": 0.75}
    worse = decide("churn", challenger, baselines, {"log_loss": 0.40}, 0.02)
    assert not worse.promote and "champion" in worse.reason
    close = {"log_loss": 0.405, "roc_auc": 0.75}
    assert decide("churn", close, baselines, {"log_loss": 0.40}, 0.02).promote
    assert not decide("cltv", {"normalised_gini": 0.3}, {"btyd": {"normalised_gini": 0.4}},
                      None, 0.02).promote  # fmt: skip


def test_registry_moves_the_champion_flag_and_replaces_a_rerun():
    con = duckdb.connect()
    record(con, [_row("v1", True)])
    record(con, [_row("v2", False)])
    assert champion(con, "churn")["model_version"] == "v1"
    record(con, [_row("v3", True)])
    record(con, [_row("v3", True)])  # the same run again
    assert champion(con, "churn")["model_version"] == "v3"
    assert con.execute("select count(*) from ml.model_runs").fetchone() == (3,)
    (metrics,) = con.execute("select metrics from ml.model_runs limit 1").fetchone()
    assert json.loads(metrics) == {"log_loss": 0.4}


@pytest.fixture
def scores(run, frame):
    snapshot = frame.loc[frame["as_of_date"] == frame["as_of_date"].max()].reset_index(drop=True)
    models = {name: result.model for name, result in run.results.items()}
    horizons = {"purchase": 30, "churn": 90, "cltv": 90}
    return snapshot, score(
        snapshot, models, horizons, prior_gap=run.prior_gap, prospect_rates=run.prospect_rates,
        thresholds=TierThresholds(), model_version="v-test",
    )  # fmt: skip


def test_scores_follow_the_contract(scores):
    snapshot, out = scores
    assert len(out) == len(snapshot) and out["customer_id"].is_unique
    buyers = snapshot["has_ordered"].to_numpy()
    assert out.loc[~buyers, "churn_probability"].isna().all()
    assert out.loc[buyers, "churn_probability"].between(0, 1).all()
    assert out["purchase_probability"].between(0, 1).all()
    assert (out["cltv_p10"] <= out["cltv_p90"]).all() and (out["cltv_predicted"] >= 0).all()
    assert set(out["churn_tier"].dropna()) <= {"high", "medium", "low"}
    assert out.loc[~buyers, "churn_tier"].isna().all()
    assert out.loc[~buyers, "expected_next_order_date"].isna().all()
    # A next order date only where the customer is likely still active.
    likely_active = out["churn_probability"] < TierThresholds().next_order_max_churn
    assert out.loc[buyers & likely_active, "expected_next_order_date"].notna().all()
    assert out.loc[buyers & ~likely_active, "expected_next_order_date"].isna().all()
    assert likely_active.any() and (buyers & ~likely_active).any()
    assert out["churn_reasons"].map(len).le(3).all()
    assert out.loc[buyers, "churn_reasons"].map(len).gt(0).mean() > 0.9
    assert set(out["score_source"]) == {"lightgbm"}


def test_reasons_explain_the_tier(scores, run):
    """A low purchase score is explained by what holds it down, a high one by what lifts it."""
    snapshot, out = scores
    model = run.results["purchase"].model
    contributions = model.contributions(model.inputs(snapshot))
    phrases = out["purchase_reasons"]
    for tier_name, sign in (("low", -1), ("high", 1)):
        rows = np.flatnonzero((out["purchase_tier"] == tier_name).to_numpy())
        assert len(rows) > 0
        for row in rows[:20]:
            pushes = np.sort(contributions[row] * sign)[::-1]
            assert len(phrases[row]) == min(3, int((pushes > 0).sum()))


def test_rules_score_a_shop_without_models(run, frame):
    snapshot = frame.loc[frame["as_of_date"] == frame["as_of_date"].max()].reset_index(drop=True)
    out = score(
        snapshot, {}, {"purchase": 30, "churn": 90, "cltv": 365}, prior_gap=40.0,
        prospect_rates={30: 0.05}, thresholds=TierThresholds(), model_version="v-rules",
    )  # fmt: skip
    assert set(out["score_source"]) == {"rules"}
    assert out["purchase_probability"].between(0, 1).all()
    assert np.allclose(out.loc[~snapshot["has_ordered"], "purchase_probability"], 0.05)
    assert out["cltv_p10"].isna().all()


def test_writing_scores_twice_for_a_date_keeps_one_row_per_customer(scores):
    _, out = scores
    con = duckdb.connect()
    as_of = out["as_of_date"].iloc[0]
    assert write_scores(con, out, as_of) == len(out)
    write_scores(con, out, as_of)
    counts = con.execute(
        "select count(*), count(distinct customer_id), any_value(churn_reasons)"
        " from ml.customer_scores"
    ).fetchone()
    assert counts[:2] == (len(out), len(out))
    # A re-run that reproduces a row keeps its first scored_at; a changed row gets the new one.
    first = con.execute("select customer_id, scored_at from ml.customer_scores").df()
    rerun = out.assign(scored_at=out["scored_at"] + pd.Timedelta(days=1))
    changed = rerun["customer_id"].iloc[0]
    rerun.loc[0, "purchase_probability"] = 1 - rerun.loc[0, "purchase_probability"]
    write_scores(con, rerun, as_of)
    after = con.execute("select customer_id, scored_at from ml.customer_scores").df()
    moved = after.merge(first, on="customer_id", suffixes=("", "_first"))
    moved = moved.loc[moved["scored_at"] != moved["scored_at_first"], "customer_id"]
    assert moved.tolist() == [changed]
    with pytest.raises(ValueError, match="one row per customer"):
        write_scores(con, out.iloc[[0, 0]], as_of)


def test_report_embeds_every_plot(run, tmp_path):
    plots = {k: v for r in run.results.values() for k, v in task_plots(r).items()}
    assert {"purchase_calibration", "churn_gain", "cltv_deciles", "purchase_importance"} <= set(
        plots
    )
    assert all(png.startswith(b"\x89PNG") for png in plots.values())
    path = write_report(tmp_path, "v-test", {"purchase": {"model": {"roc_auc": 0.8}}}, plots)
    html = path.read_text()
    assert html.count("data:image/png;base64,") == len(plots) and "0.8000" in html


def test_the_best_baseline_serves_when_lightgbm_is_not_promoted():
    baselines = {"rf_logistic": {"log_loss": 0.40, "roc_auc": 0.80},
                 "btyd": {"log_loss": 0.45, "roc_auc": 0.82}}  # fmt: skip
    winner = choose_serving("churn", {"log_loss": 0.39, "roc_auc": 0.83}, baselines, None, 0.02)
    assert (winner.source, winner.is_champion) == ("lightgbm", True)
    assert winner.reason.startswith("promoted")
    loser = {"log_loss": 0.42, "roc_auc": 0.81}
    served = choose_serving("churn", loser, baselines, None, 0.02)
    assert (served.source, served.is_champion) == ("rf_logistic", True)
    assert "rf_logistic baseline serves" in served.reason
    # A champion that still beats every baseline on this test keeps serving; one that trails a
    # baseline is replaced by it.
    strong = {"log_loss": 0.38, "roc_auc": 0.84}
    kept = choose_serving("churn", loser, baselines, strong, 0.02)
    assert (kept.source, kept.is_champion) == ("lightgbm", False)
    weak = {"log_loss": 0.41, "roc_auc": 0.84}
    assert choose_serving("churn", loser, baselines, weak, 0.02).source == "rf_logistic"
    amounts = {"run_rate": {"normalised_gini": 0.5}, "btyd": {"normalised_gini": 0.6}}
    assert choose_serving("cltv", {"normalised_gini": 0.55}, amounts, None, 0).source == "btyd"
    assert best_baseline("churn", {}) is None


def test_a_served_baseline_scores_its_task_without_reasons(run, frame):
    snapshot = frame.loc[frame["as_of_date"] == frame["as_of_date"].max()].reset_index(drop=True)
    train = frame.loc[frame["orders_next_30d"].notna()]
    rf = RecencyFrequencyLogistic().fit(train, (train["orders_next_30d"] > 0).to_numpy(int))
    models = {"purchase": rf, "churn": run.results["churn"].model, "cltv": RunRate(90)}
    out = score(
        snapshot, models, {"purchase": 30, "churn": 90, "cltv": 90}, prior_gap=run.prior_gap,
        prospect_rates=run.prospect_rates, thresholds=TierThresholds(), model_version="v-rf",
        sources={"purchase": "rf_logistic", "cltv": "run_rate"},
    )  # fmt: skip
    assert np.allclose(out["purchase_probability"], rf.predict(snapshot))
    assert np.allclose(out["cltv_predicted"], RunRate(90).predict(snapshot))
    assert out["purchase_reasons"].map(len).eq(0).all()
    assert out["churn_reasons"].map(len).gt(0).any()
    assert out["cltv_p10"].isna().all()
    assert set(out["score_source"]) == {"churn:lightgbm,purchase:rf_logistic,cltv:run_rate"}


def test_a_serving_baseline_is_judged_by_its_own_metrics():
    """The quality alert and the report's champion column read what serves, not the model
    that lost to it."""
    con = duckdb.connect()
    record(con, [_row("v1", True)])  # LightGBM champion, log loss 0.4
    lost = _row("v2", True) | {
        "score_source": "rf_logistic",
        "metrics": {"log_loss": 0.9},
        "baseline_metrics": {"rf_logistic": {"log_loss": 0.401}},
    }
    record(con, [lost])
    assert quality_drops(con, tolerance=0.05) == []
    assert champions(con)["churn"]["metrics"] == {"log_loss": 0.401}
    worse = lost | {"model_version": "v3", "baseline_metrics": {"rf_logistic": {"log_loss": 0.5}}}
    record(con, [worse])
    [drop] = quality_drops(con, tolerance=0.05)
    assert "log_loss 0.5000 (champion v3)" in drop
