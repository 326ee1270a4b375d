"""Typed resources: the platforms' APIs and the DuckDB warehouse.

Credentials are `EnvVar` fields resolved at run time (names in `.env.example`). The launchers
(`make demo`, `make dev`) point any platform without credentials at the local sandbox.

Shopify and Klaviyo are required. Mailchimp is optional: a shop on Klaviyo alone must not see its
daily job fail for a platform it does not use. So a Mailchimp variable that is not set at all is
bound as None (the sync then records "not configured" and calls nothing), while one that is set
is bound as an `EnvVar` and resolved at run time like every other credential. Only whether the
variable exists is looked at when the definitions load, never its value.
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
from pipeline.lib.settings import warehouse_path


class ShopifyResource(dg.ConfigurableResource):
    """Shopify's GraphQL Admin API; `api_url` is the full `.../graphql.json` endpoint."""

    api_url: str
    access_token: str

    def client(self) -> ShopifyClient:
        return ShopifyClient(
            self.api_url, self.access_token, ApiSession("Shopify", "SHOPIFY_ACCESS_TOKEN")
        )


class KlaviyoResource(dg.ConfigurableResource):
    """Klaviyo's REST API; `api_url` is the base URL (https://a.klaviyo.com)."""

    api_url: str
    api_key: str

    def client(self) -> KlaviyoClient:
        return KlaviyoClient(self.api_url, self.api_key, ApiSession("Klaviyo", "KLAVIYO_API_KEY"))

    def write_client(self) -> KlaviyoWriteClient:
        """The client with the sync's write calls (properties, lists), rate-limited."""
        session = ApiSession("Klaviyo", "KLAVIYO_API_KEY")
        return KlaviyoWriteClient(self.api_url, self.api_key, session)


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
        if self.api_url and not self.api_key:
            raise ValueError(
                f"MAILCHIMP_API_URL is set but {MAILCHIMP_KEY_ENV} is not: set both, or neither "
                "to leave Mailchimp out"
            )
        return bool(self.api_key)

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
            api_url=dg.EnvVar("SHOPIFY_API_URL"), access_token=dg.EnvVar("SHOPIFY_ACCESS_TOKEN")
        ),
        "klaviyo": KlaviyoResource(
            api_url=dg.EnvVar("KLAVIYO_API_URL"), api_key=dg.EnvVar("KLAVIYO_API_KEY")
        ),
        "mailchimp": MailchimpResource(
            api_url=_optional_env("MAILCHIMP_API_URL"), api_key=_optional_env(MAILCHIMP_KEY_ENV)
        ),
        "warehouse": WarehouseResource(path=str(warehouse_path())),
    }


def _optional_env(name: str) -> dg.EnvVar | None:
    """The variable as an `EnvVar` (resolved at run time) when it exists, else None."""
    return dg.EnvVar(name) if name in os.environ else None
