"""A small labelled frame and one quick training run shared by the modeling tests."""

import pytest

from pipeline.lib.modeling.estimators import ModelParams
from pipeline.lib.modeling.training_run import RunConfig, train_all
from tests.lib.modeling.synthetic import synthetic_frame

# One candidate (no coarser variant) keeps the shared run quick; choosing is tested on its own.
FAST = ModelParams(
    n_estimators=60, learning_rate=0.1, early_stopping_rounds=15, also_try_coarser=False
)


@pytest.fixture(scope="package")
def frame():
    return synthetic_frame(customers=800, weeks=40, seed=3)


@pytest.fixture(scope="package")
def run(frame):
    config = RunConfig(
        cltv_horizon=90, params=FAST, max_train_snapshots=8, fit_btyd=False, btyd_features=False
    )
    return train_all(frame, config)
