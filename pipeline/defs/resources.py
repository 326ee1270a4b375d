"""Typed resources: the platforms' APIs and the DuckDB warehouse.

Credentials are `EnvVar` fields resolved at run time, read from the environment and the project's
`.env` (loaded before the definitions bind them). Every platform is optional: a shop uses the
ones it has, and a platform without settings is left out cleanly (its ingest assets and sync
record "not configured" and call nothing). So a variable that is empty or not set is bound as
None, while one that is set is bound as an `EnvVar` and resolved at run time. Only whether the
variable is set is looked at when the definitions load, never what it holds.

Nothing here points a platform at a sandbox: only `make demo` / `make dev` do, on request.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.lib.clients.http import ApiSession
from pipeline.lib.clients.klaviyo import KlaviyoClient
from pipeline.lib.clients.klaviyo_writes import KlaviyoWriteClient
from pipeline.lib.clients.mailchimp import CREDENTIAL_ENV as MAILCHIMP_KEY_ENV
from pipeline.lib.clients.mailchimp import MailchimpClient
from pipeline.lib.clients.shopify import ShopifyClient
from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.platforms import PLATFORMS, is_configured
from pipeline.lib.settings import warehouse_path


def _configured(platform: str, api_url: str | None, api_key: str | None) -> bool:
    """The platform's settings as bound: configured with a key; half a setup raises."""
    settings = PLATFORMS[platform]
    return is_configured(
        platform, {settings.url_env: api_url or "", settings.key_env: api_key or ""}
    )


class ShopifyResource(dg.ConfigurableResource):
    """Shopify's GraphQL Admin API, optional; `api_url` is the full `.../graphql.json` endpoint."""

    api_url: str | None = None
    access_token: str | None = None

    @property
    def configured(self) -> bool:
        return _configured("shopify", self.api_url, self.access_token)

    def client(self) -> ShopifyClient:
        if not self.configured:
            raise ValueError(
                "Shopify is not configured: set SHOPIFY_API_URL and SHOPIFY_ACCESS_TOKEN"
            )
        return ShopifyClient(
            self.api_url, self.access_token, ApiSession("Shopify", "SHOPIFY_ACCESS_TOKEN")
        )


KLAVIYO_DEFAULT_URL = "https://a.klaviyo.com"


class KlaviyoResource(dg.ConfigurableResource):
    """Klaviyo's REST API, optional; `api_url` is the base URL (default https://a.klaviyo.com)."""

    api_url: str | None = None
    api_key: str | None = None

    @property
    def configured(self) -> bool:
        return _configured("klaviyo", self.api_url, self.api_key)

    @property
    def base_url(self) -> str:
        return self.api_url or KLAVIYO_DEFAULT_URL

    def _key(self) -> str:
        if not self.configured:
            raise ValueError("Klaviyo is not configured: set KLAVIYO_API_KEY")
        return self.api_key

    def client(self) -> KlaviyoClient:
        return KlaviyoClient(self.base_url, self._key(), ApiSession("Klaviyo", "KLAVIYO_API_KEY"))

    def write_client(self) -> KlaviyoWriteClient:
        """The client with the sync's write calls (properties, lists), rate-limited."""
        session = ApiSession("Klaviyo", "KLAVIYO_API_KEY")
        return KlaviyoWriteClient(self.base_url, self._key(), session)


class MailchimpResource(dg.ConfigurableResource):
    """Mailchimp's Marketing API, optional: without an API key it is not configured.

    `api_url` overrides the base URL the key's data centre implies (the sandbox sets it);
    `audience` names the audience to sync, else the account must have exactly one.
    """

    api_url: str | None = None
    api_key: str | None = None
    audience: str | None = None

    @property
    def configured(self) -> bool:
        """True with an API key; a URL without a key is a half-done setup and an error."""
        return _configured("mailchimp", self.api_url, self.api_key)

    def client(self) -> MailchimpClient:
        if not self.api_key:
            raise ValueError(f"Mailchimp is not configured: set {MAILCHIMP_KEY_ENV}")
        session = ApiSession("Mailchimp", MAILCHIMP_KEY_ENV)
        return MailchimpClient(self.api_url or None, self.api_key, session)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file; open it only inside `with`, from assets in the `duckdb` pool."""

    path: str

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(Path(self.path), read_only=read_only) as con:
            yield con


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """What the Definitions object binds: env-backed platform credentials and the warehouse."""
    return {
        "shopify": ShopifyResource(
            api_url=_optional_env("SHOPIFY_API_URL"),
            access_token=_optional_env("SHOPIFY_ACCESS_TOKEN"),
        ),
        "klaviyo": KlaviyoResource(
            api_url=_optional_env("KLAVIYO_API_URL"), api_key=_optional_env("KLAVIYO_API_KEY")
        ),
        "mailchimp": MailchimpResource(
            api_url=_optional_env("MAILCHIMP_API_URL"), api_key=_optional_env(MAILCHIMP_KEY_ENV)
        ),
        "warehouse": WarehouseResource(path=str(warehouse_path())),
    }


def _optional_env(name: str) -> dg.EnvVar | None:
    """The variable as an `EnvVar` (resolved at run time) when it is set, else None."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else None
