"""Which platforms a shop uses: read from the environment and the project's `.env` file.

A platform is configured when its credential is set (`SHOPIFY_ACCESS_TOKEN`, `KLAVIYO_API_KEY`,
`MAILCHIMP_API_KEY`). A URL without its credential is a half-done setup and an error, never a
reason to talk to some other service. A platform that is not configured is left out: its ingest
assets record "not configured" and its sync calls nothing. Nothing here ever points a platform
at a sandbox; only the demo launchers do that, on request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from pipeline.lib.settings import PROJECT_ROOT


@dataclass(frozen=True)
class PlatformSettings:
    """The environment variables of one platform; `url_required` when no default URL exists."""

    name: str
    url_env: str
    key_env: str
    url_required: bool


PLATFORMS = {
    "shopify": PlatformSettings("Shopify", "SHOPIFY_API_URL", "SHOPIFY_ACCESS_TOKEN", True),
    "klaviyo": PlatformSettings("Klaviyo", "KLAVIYO_API_URL", "KLAVIYO_API_KEY", False),
    "mailchimp": PlatformSettings("Mailchimp", "MAILCHIMP_API_URL", "MAILCHIMP_API_KEY", False),
}
# Platforms whose data can hold a shop's orders (Klaviyo through its "Placed Order" events).
ORDER_PLATFORMS = ("shopify", "klaviyo")


class PlatformSettingsError(ValueError):
    """A platform is half configured, or a run has no source of orders at all."""


def env_file() -> Path:
    """The settings file: env `FORESIGHT_ENV_FILE`, default `.env` in the project."""
    return Path(os.environ.get("FORESIGHT_ENV_FILE") or PROJECT_ROOT / ".env")


def load_env_file() -> None:
    """Read the settings file into the environment (when it exists); variables already set win,
    so an explicit `export` or a launcher's choice is never overridden by the file."""
    load_dotenv(env_file(), override=False)


def is_configured(platform: str, environ: Mapping[str, str] | None = None) -> bool:
    """True when the platform's credential is set; raises on a half-done setup."""
    environ = os.environ if environ is None else environ
    settings = PLATFORMS[platform]
    url = (environ.get(settings.url_env) or "").strip()
    key = (environ.get(settings.key_env) or "").strip()
    if url and not key:
        raise PlatformSettingsError(
            f"{settings.url_env} is set but {settings.key_env} is not: set both, or neither "
            f"to leave {settings.name} out"
        )
    if key and not url and settings.url_required:
        raise PlatformSettingsError(
            f"{settings.key_env} is set but {settings.url_env} is not: set both, or neither "
            f"to leave {settings.name} out"
        )
    return bool(key)


def configured_platforms(environ: Mapping[str, str] | None = None) -> list[str]:
    """The configured platforms, in a fixed order (shopify, klaviyo, mailchimp)."""
    return [platform for platform in PLATFORMS if is_configured(platform, environ)]


def require_order_source(configured: list[str], imported_orders: int) -> list[str]:
    """The sources of orders for a run: the configured order platforms, plus `files` when a CSV
    was imported. Klaviyo's "Placed Order" events count only without Shopify: with it they
    repeat Shopify's own orders and the marts do not use them as orders. Raises with what to
    do when there is none: without orders nothing can be modelled, and an empty run would look
    like a shop that sells nothing."""
    sources = [platform for platform in configured if platform in ORDER_PLATFORMS]
    if "shopify" in sources:
        sources = [platform for platform in sources if platform != "klaviyo"]
    if imported_orders:
        sources.append("files")
    if not sources:
        raise PlatformSettingsError(
            "no source of orders: configure Shopify (SHOPIFY_API_URL, SHOPIFY_ACCESS_TOKEN) or "
            "Klaviyo (KLAVIYO_API_KEY, for its Placed Order events), or import an order CSV "
            "first (make import-csv CSV=orders.csv)"
        )
    return sources
