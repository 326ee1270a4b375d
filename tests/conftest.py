"""Fixtures shared by every test folder: a small simulated store generated once per session."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from pipeline.lib.erasure.keys import SALT_ENV
from sandbox.shop.simulator import StoreSpec, ensure_store
from sandbox.shop.store import StoreView

SMALL_STORE = StoreSpec(seed=7, customers=800, start=date(2024, 1, 1), days=240)


@pytest.fixture(autouse=True)
def erasure_salt_of_the_tests(monkeypatch):
    """A shop has its own secret erasure salt (nothing works without one once anyone is erased);
    the tests' is this one, unless a test sets or removes it."""
    monkeypatch.setenv(SALT_ENV, "tests-own-erasure-salt")


@pytest.fixture(scope="session")
def small_store_path(tmp_path_factory):
    return ensure_store(SMALL_STORE, tmp_path_factory.mktemp("stores"))


@pytest.fixture(scope="session")
def small_store_view(small_store_path):
    view = StoreView(small_store_path, datetime(2024, 8, 29))
    yield view
    view.close()


@pytest.fixture
def alert_inbox(monkeypatch):
    """A webhook and an SMTP server on 127.0.0.1, with the notifier's environment pointing at
    them; yields what they received."""
    from tests.alert_receivers import alert_receivers

    with alert_receivers() as (received, env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield received
