"""Fixtures shared by every test folder: a small simulated store generated once per session, its
whole history ingested once, and built once by dbt (each read-only by convention: copy first)."""

from __future__ import annotations

import os

# Tests run two at a time on two cores, beside dbt and sandbox processes: OpenMP threads that
# spin while they wait (LightGBM's) then take the cores the others need, which made the
# modeling tests several times slower. Set before LightGBM loads; subprocesses inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import shutil
from datetime import date, datetime

import pytest

from pipeline.lib.erasure.keys import SALT_ENV
from pipeline.lib.signals import stop_ignoring_interrupts
from sandbox.shop.simulator import StoreSpec, ensure_store
from sandbox.shop.store import StoreView

# Started in the background of a script (as CI may start it), a worker would ignore SIGTERM after
# its first Dagster run, and a later run in a thread waited a minute for its compute-log tails.
stop_ignoring_interrupts()

SMALL_STORE = StoreSpec(seed=7, customers=800, start=date(2024, 1, 1), days=240)


@pytest.fixture(autouse=True)
def erasure_salt_of_the_tests(monkeypatch):
    """A shop has its own secret erasure salt (nothing works without one once anyone is erased);
    the tests' is this one, unless a test sets or removes it."""
    monkeypatch.setenv(SALT_ENV, "tests-own-erasure-salt")


# Session fixtures are built once per worker: the modules reading the small store's warehouses
# form one group, so one worker builds them (two workers used to build them both, about a minute).
SMALL_STORE_FIXTURES = {"small_store_ingest", "raw_warehouse", "first_build", "built_warehouse"}
# The longest groups start first, each on its own worker, and the short modules fill in around
# them: started last, one of them kept a worker busy alone for minutes at the end.
LONGEST_GROUPS_FIRST = ("small_store", "every_platform_shop", "demo_shop")


def _group(item) -> str:
    marker = item.get_closest_marker("xdist_group")
    return marker.kwargs.get("name", marker.args[0] if marker.args else "")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under `pytest -n N --dist loadgroup --no-loadscope-reorder`, each module runs whole on
    one worker (its module fixtures are built once), unless it names a group to share a session
    fixture with others or reads the small store's warehouses; the longest groups come first."""
    on_small_store = {
        item.nodeid.split("::")[0]
        for item in items
        if SMALL_STORE_FIXTURES & set(item.fixturenames)
    }
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            module = item.nodeid.split("::")[0]
            group = "small_store" if module in on_small_store else module
            item.add_marker(pytest.mark.xdist_group(group))
    rank = {group: position for position, group in enumerate(LONGEST_GROUPS_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))


@pytest.fixture(scope="session")
def small_store_path(tmp_path_factory):
    return ensure_store(SMALL_STORE, tmp_path_factory.mktemp("stores"))


@pytest.fixture(scope="session")
def small_store_view(small_store_path):
    view = StoreView(small_store_path, datetime(2024, 8, 29))
    yield view
    view.close()


@pytest.fixture(scope="session")
def small_store_ingest(tmp_path_factory):
    """(root, warehouse, result): the small store's whole history ingested from a fault-free
    sandbox whose data lives under `root / "sandbox"`; ingesting is the slow part of most tests."""
    from tests.defs.ingest_helpers import HISTORY, ingest, sandbox

    root = tmp_path_factory.mktemp("raw")
    warehouse = root / "warehouse.duckdb"
    with sandbox(root / "sandbox") as url:
        result = ingest(url, warehouse, *HISTORY)
    assert result.success
    return root, warehouse, result


@pytest.fixture(scope="session")
def raw_warehouse(small_store_ingest):
    """A warehouse holding only the raw tables of the small store's whole history."""
    return small_store_ingest[1]


@pytest.fixture(scope="session")
def first_build(raw_warehouse, tmp_path_factory):
    """(warehouse, run results): the raw warehouse after a whole `dbt build` (models, data tests
    and unit tests), as a shop's first build leaves it."""
    from tests.dbt.dbt_helpers import dbt_build

    root = tmp_path_factory.mktemp("built")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(raw_warehouse, warehouse)
    return warehouse, dbt_build(warehouse, root / "dbt")


@pytest.fixture(scope="session")
def built_warehouse(first_build):
    """The raw warehouse built by dbt."""
    return first_build[0]


@pytest.fixture(scope="session")
def every_platform_shop(tmp_path_factory):
    """The setups' small shop on Shopify, Klaviyo and Mailchimp: the first refresh over its whole
    history, then the daily refresh of its last day run again (nothing new at the source). Yields
    (url, warehouse, first, second) with the sandbox up; the warehouse is read-only by
    convention (copy it before writing)."""
    from tests.integration.setups_helpers import LAST_DAY, run_first_refresh, setup_sandbox

    root = tmp_path_factory.mktemp("every_platform")
    warehouse = root / "warehouse.duckdb"
    platforms = {"shopify", "klaviyo", "mailchimp"}
    with setup_sandbox(root / "sandbox") as url:
        first = run_first_refresh(url, warehouse, platforms)
        second = run_first_refresh(url, warehouse, platforms, "daily_refresh", LAST_DAY)
        yield url, warehouse, first, second


@pytest.fixture(scope="session")
def demo_shop(tmp_path_factory):
    """A first `make demo` of a small shop: (root, pristine, port, summary). Later demos change
    `root`; `pristine` is a copy of it as the first demo left it."""
    from tests.demo_helpers import free_port, run_demo

    root = tmp_path_factory.mktemp("demo")
    port = free_port()
    summary = run_demo(root, port)
    pristine = tmp_path_factory.mktemp("demo_pristine")
    shutil.copytree(root, pristine, dirs_exist_ok=True)
    return root, pristine, port, summary


@pytest.fixture
def alert_inbox(monkeypatch):
    """A webhook and an SMTP server on 127.0.0.1, with the notifier's environment pointing at
    them; yields what they received."""
    from tests.alert_receivers import alert_receivers

    with alert_receivers() as (received, env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield received
