"""The erasure salt is a secret of the shop's own: with it missing, blank or left at the
`.env.example` placeholder, an erasure (and a load once someone has been erased) stops with an
error naming `FORESIGHT_ERASURE_SALT`; a load into a warehouse where nobody was erased needs no
salt; the sandbox launchers bring the sandbox's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.lib.erasure.keys import (
    PLACEHOLDER_SALT,
    SALT_ENV,
    ErasureSaltError,
    ensure_table,
    erasure_salt,
)
from pipeline.lib.erasure.request import ErasureRequest
from pipeline.lib.erasure.run import erase
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.platforms import PLATFORMS
from sandbox.process import SANDBOX_ERASURE_SALT, use_sandbox_for
from tests.lib.erasure.conftest import con as con
from tests.lib.erasure.erasure_fixtures import ANN, FakeKlaviyo

REQUEST = ErasureRequest(emails=(ANN,))

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_PREFIXES = ("SHOPIFY_", "KLAVIYO_", "MAILCHIMP_")
ORDER = {
    "id": "gid://shopify/Order/9",
    "updatedAt": "2024-03-01T00:00:00Z",
    "email": "someone.else@example.com",
    "totalPriceSet": {"shopMoney": {"amount": "5.00", "currencyCode": "EUR"}},
}
UNSET = pytest.param(None, "is not set", id="unset")
NOT_REAL = [
    UNSET,
    pytest.param("  ", "is not set", id="blank"),
    pytest.param(PLACEHOLDER_SALT, "is still the placeholder", id="placeholder"),
]


def set_salt(monkeypatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(SALT_ENV, raising=False)
    else:
        monkeypatch.setenv(SALT_ENV, value)


@pytest.mark.parametrize(("value", "problem"), NOT_REAL)
def test_an_erasure_without_a_real_salt_stops_naming_the_setting(con, monkeypatch, value, problem):
    set_salt(monkeypatch, value)
    before = con.execute("select count(*) from raw_shopify.customers").fetchone()
    with pytest.raises(ErasureSaltError, match=f"{SALT_ENV} {problem}"):
        erase(con, REQUEST, klaviyo=FakeKlaviyo(), run_id="r")
    assert con.execute("select count(*) from raw_shopify.customers").fetchone() == before


@pytest.mark.parametrize(("value", "problem"), NOT_REAL)
def test_a_load_after_an_erasure_needs_the_real_salt(con, monkeypatch, value, problem):
    erase(con, REQUEST, klaviyo=FakeKlaviyo(), run_id="r")
    set_salt(monkeypatch, value)
    with pytest.raises(ErasureSaltError, match=SALT_ENV):
        load_records(con, RAW_TABLES["shopify", "orders"], [ORDER], "later")


def test_a_load_where_nobody_was_erased_needs_no_salt(monkeypatch):
    set_salt(monkeypatch, None)
    with duckdb.connect() as con:
        ensure_table(con)
        assert load_records(con, RAW_TABLES["shopify", "orders"], [ORDER], "r").loaded == 1


def test_a_shop_salt_is_used_as_set(monkeypatch):
    set_salt(monkeypatch, "  a-secret-of-the-shop  ")
    assert erasure_salt() == "a-secret-of-the-shop"


def test_the_env_example_holds_the_placeholder_the_product_refuses():
    settings = (ROOT / ".env.example").read_text()
    assert f"{SALT_ENV}={PLACEHOLDER_SALT}\n" in settings


def test_the_sandbox_launchers_bring_their_own_salt(monkeypatch):
    set_salt(monkeypatch, None)
    for settings in PLATFORMS.values():  # restored after the test, as the salt is
        monkeypatch.setenv(settings.url_env, "")
        monkeypatch.setenv(settings.key_env, "")
    use_sandbox_for("http://127.0.0.1:9", ["shopify"])
    assert erasure_salt() == SANDBOX_ERASURE_SALT


def test_make_erase_without_a_salt_stops_naming_the_setting(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(PLATFORM_PREFIXES)}
    env.pop("DAGSTER_HOME", None)
    env.pop(SALT_ENV)
    (tmp_path / "settings.env").write_text(f"{SALT_ENV}={PLACEHOLDER_SALT}\n")
    env |= {
        "FORESIGHT_ENV_FILE": str(tmp_path / "settings.env"),
        "WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
    }
    request = tmp_path / "request.txt"
    request.write_text("someone@example.com\n")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.erase", str(request)],
        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout.startswith("erasure failed:")
    assert f"{SALT_ENV} is still the placeholder" in done.stdout
