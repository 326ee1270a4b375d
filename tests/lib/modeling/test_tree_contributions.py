"""Contributions asked once per pattern of split sides equal LightGBM's row-by-row ones."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from pipeline.lib.modeling import tree_contributions
from pipeline.lib.modeling.tree_contributions import pattern_contributions


def _frame(rows: int, seed: int) -> pd.DataFrame:
    """Continuous, count-like and categorical columns with missing values and exact zeros."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "days": rng.exponential(90, rows),
            "orders": rng.poisson(1.5, rows).astype(float),
            "spend": rng.lognormal(3, 1, rows) * (rng.random(rows) < 0.7),
            "opens": rng.random(rows),
            "kind": pd.Categorical(rng.choice(["a", "b", "c", "d"], rows)),
        }
    )
    frame.loc[rng.random(rows) < 0.2, "days"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "opens"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "kind"] = np.nan
    return frame


def _label(frame: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    score = (
        -frame["days"].fillna(200) / 60
        + frame["orders"]
        + np.log1p(frame["spend"]) / 2
        + (frame["kind"] == "b") * 1.5
        - frame["opens"].isna()
    )
    return (score + rng.logistic(size=len(frame)) > 0).astype(int).to_numpy()


def _assert_lightgbms_own(booster: lgb.Booster, scored: pd.DataFrame) -> None:
    assert np.allclose(
        pattern_contributions(booster, scored),
        booster.predict(scored, pred_contrib=True),
        rtol=1e-9, atol=1e-12,
    )  # fmt: skip


def _booster(params: dict, rounds: int = 60) -> lgb.Booster:
    train = _frame(4000, seed=1)
    dataset = lgb.Dataset(train, label=_label(train, seed=2))
    defaults = {"objective": "binary", "num_leaves": 15, "max_depth": 4, "verbose": -1,
                "min_data_in_leaf": 20, "seed": 7, "min_data_per_group": 5}  # fmt: skip
    return lgb.train({**defaults, **params}, dataset, num_boost_round=rounds)


@pytest.mark.parametrize(
    "params",
    [{}, {"zero_as_missing": True}, {"use_missing": False}, {"max_depth": 7, "num_leaves": 31}],
    ids=["default", "zero-as-missing", "no-missing", "deep"],
)
def test_pattern_contributions_equal_lightgbms_own(params):
    booster = _booster(params)
    scored = _frame(5000, seed=3)
    _assert_lightgbms_own(booster, scored)


def test_values_on_a_threshold_take_its_side():
    booster = _booster({})
    thresholds = []
    for tree in booster.dump_model()["tree_info"]:
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_index" in node:
                if node["decision_type"] == "<=" and node["split_feature"] == 0:
                    thresholds.append(float(node["threshold"]))
                stack += [node["left_child"], node["right_child"]]
    assert thresholds, "the model should split on days"
    edges = np.concatenate([thresholds, np.nextafter(thresholds, np.inf),
                            np.nextafter(thresholds, -np.inf), [0.0, -0.0]])  # fmt: skip
    scored = _frame(len(edges), seed=4).assign(days=edges)
    _assert_lightgbms_own(booster, scored)


def test_lightgbm_explains_one_row_per_pattern_not_every_row():
    booster = _booster({})
    scored = _frame(20_000, seed=5)
    asked = []
    predict = booster.predict
    booster.predict = lambda data, **kw: asked.append(len(data)) or predict(data, **kw)
    pattern_contributions(booster, scored)
    assert len(asked) == booster.num_trees()
    assert sum(asked) < 0.1 * len(scored) * len(asked)


def test_codes_renumbered_when_a_trees_features_would_overflow_the_table(monkeypatch):
    monkeypatch.setattr(tree_contributions, "_MAX_CODES", 16)
    booster = _booster({"max_depth": 7, "num_leaves": 31}, rounds=20)
    scored = _frame(3000, seed=6)
    _assert_lightgbms_own(booster, scored)


def test_multiclass_models_are_explained_row_by_row():
    train = _frame(3000, seed=7)
    label = np.digitize(train["orders"], [1, 2])
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1},
                        lgb.Dataset(train, label=label), num_boost_round=10)  # fmt: skip
    scored = _frame(500, seed=8)
    assert np.array_equal(
        pattern_contributions(booster, scored), booster.predict(scored, pred_contrib=True)
    )
