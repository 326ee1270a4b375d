"""Fixtures of the sync tests: a fresh sandbox on the small store, and its audience members."""

from __future__ import annotations

import pytest

from pipeline.lib.clients.mailchimp import subscriber_hash
from tests.lib.clients.sandbox_fixtures import serve
from tests.lib.sync.mailchimp_sync_fixtures import Harness
from tests.lib.sync.sync_fixtures import store_profiles


@pytest.fixture
def sandbox(small_store_view, tmp_path):
    """Both emulators over the small store, with empty platform state, for one test."""
    with serve(small_store_view, tmp_path) as running:
        yield running


@pytest.fixture
def audience_profiles(small_store_view, sandbox):
    """The first 150 store profiles that are Mailchimp audience members (a usable email)."""
    audience = set(Harness(sandbox.url).members())
    members = [p for p in store_profiles(small_store_view) if p.email]
    return [p for p in members if subscriber_hash(p.email) in audience][:150]
