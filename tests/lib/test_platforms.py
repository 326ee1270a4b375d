"""Which platforms a shop uses: settings from the environment and `.env`, half setups refused."""

from __future__ import annotations

import os

import pytest

from pipeline.lib.platforms import (
    PlatformSettingsError,
    configured_platforms,
    is_configured,
    load_env_file,
    require_order_source,
)
from sandbox.process import parse_platforms, use_sandbox_for


def test_a_platform_is_configured_by_its_credential_and_blank_values_leave_it_out():
    environ = {
        "SHOPIFY_API_URL": "https://shop.example/admin/api/2026-10/graphql.json",
        "SHOPIFY_ACCESS_TOKEN": "token",
        "KLAVIYO_API_URL": "",
        "KLAVIYO_API_KEY": "  ",
        "MAILCHIMP_API_KEY": "key-us21",
    }
    assert configured_platforms(environ) == ["shopify", "mailchimp"]
    assert configured_platforms({}) == []


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({"SHOPIFY_API_URL": "https://shop.example/graphql.json"}, "SHOPIFY_ACCESS_TOKEN"),
        ({"SHOPIFY_ACCESS_TOKEN": "token"}, "SHOPIFY_API_URL"),
        ({"KLAVIYO_API_URL": "https://a.klaviyo.com"}, "KLAVIYO_API_KEY"),
        ({"MAILCHIMP_API_URL": "https://us21.api.mailchimp.com/3.0"}, "MAILCHIMP_API_KEY"),
    ],
)
def test_half_a_setup_is_an_error_naming_what_is_missing(environ, missing):
    with pytest.raises(PlatformSettingsError, match=f"{missing} is not"):
        configured_platforms(environ)


def test_klaviyo_needs_no_url_it_has_a_default():
    assert is_configured("klaviyo", {"KLAVIYO_API_KEY": "pk_live"})


def test_at_least_one_source_of_orders_is_required():
    assert require_order_source(["klaviyo", "mailchimp"], 0) == ["klaviyo"]
    assert require_order_source(["mailchimp"], 12) == ["files"]
    # With Shopify, Klaviyo's Placed Order events repeat Shopify's orders: not a source of them.
    assert require_order_source(["shopify", "klaviyo"], 3) == ["shopify", "files"]
    assert require_order_source(["shopify", "klaviyo", "mailchimp"], 0) == ["shopify"]
    assert require_order_source(["klaviyo"], 3) == ["klaviyo", "files"]
    with pytest.raises(PlatformSettingsError, match=r"no source of orders.*import-csv"):
        require_order_source(["mailchimp"], 0)


def test_env_file_fills_what_is_unset_and_never_overrides(tmp_path, monkeypatch):
    settings = tmp_path / "settings.env"
    settings.write_text("KLAVIYO_API_KEY=from-file\nMAILCHIMP_API_KEY=from-file\n")
    monkeypatch.setenv("FORESIGHT_ENV_FILE", str(settings))
    monkeypatch.delenv("KLAVIYO_API_KEY", raising=False)
    monkeypatch.setenv("MAILCHIMP_API_KEY", "")  # set, even empty: the launcher's choice wins
    load_env_file()
    try:
        assert os.environ["KLAVIYO_API_KEY"] == "from-file"
        assert os.environ["MAILCHIMP_API_KEY"] == ""
    finally:
        os.environ.pop("KLAVIYO_API_KEY", None)


def test_the_demo_plays_the_chosen_platforms_and_blanks_the_others(monkeypatch):
    for name in ("SHOPIFY_API_URL", "SHOPIFY_ACCESS_TOKEN", "KLAVIYO_API_URL", "KLAVIYO_API_KEY",
                 "MAILCHIMP_API_URL", "MAILCHIMP_API_KEY"):  # fmt: skip
        monkeypatch.setenv(name, "real-value")
    use_sandbox_for("http://127.0.0.1:9", parse_platforms("mailchimp, Shopify"))
    assert configured_platforms() == ["shopify", "mailchimp"]
    assert os.environ["KLAVIYO_API_KEY"] == os.environ["KLAVIYO_API_URL"] == ""
    assert os.environ["MAILCHIMP_API_URL"] == "http://127.0.0.1:9/3.0"
    with pytest.raises(SystemExit, match="unknown platform"):
        parse_platforms("shopify,woocommerce")
