"""Fixtures of the client tests: one sandbox per test module, over the session's small store."""

from __future__ import annotations

import pytest

from tests.lib.clients.sandbox_fixtures import serve


@pytest.fixture(scope="module")
def sandbox(small_store_view, tmp_path_factory):
    """Both emulators, started once for the tests of one module."""
    with serve(small_store_view, tmp_path_factory.mktemp("bulk")) as running:
        yield running
