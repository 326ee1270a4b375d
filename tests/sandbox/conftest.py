"""Fixtures of the sandbox tests: the Shopify emulator's fixture store and clients on it, and a
client of the Mailchimp emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from starlette.testclient import TestClient

from tests.sandbox import mailchimp_fixtures
from tests.sandbox.shopify_fixtures import (
    FakeClock,
    FixtureView,
    GatedView,
    build_store,
    make_client,
)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def shopify_store() -> Iterator[duckdb.DuckDBPyConnection]:
    """Built once: every test only reads it."""
    con = build_store()
    yield con
    con.close()


@pytest.fixture
def shopify_client(
    shopify_store: duckdb.DuckDBPyConnection, fake_clock: FakeClock, tmp_path: Path
) -> Iterator[TestClient]:
    with make_client(FixtureView(shopify_store), fake_clock, tmp_path) as client:
        yield client


@pytest.fixture
def gated_view(shopify_store: duckdb.DuckDBPyConnection) -> Iterator[GatedView]:
    view = GatedView(shopify_store)
    yield view
    view.gate.set()


@pytest.fixture
def mailchimp() -> TestClient:
    """A client of the Mailchimp emulator over the tiny test store, with fresh state."""
    return mailchimp_fixtures.make_client()
