"""Typed resources: the platforms' APIs and the DuckDB warehouse.

Credentials are `EnvVar` fields resolved at run time (DESIGN §3 names). The launchers (`make demo`,
`make dev`) point any platform without credentials at the local sandbox.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.lib.clients.http import ApiSession
from pipeline.lib.clients.klaviyo import KlaviyoClient
from pipeline.lib.clients.shopify import ShopifyClient
from pipeline.lib.settings import warehouse_path
from pipeline.lib.warehouse import connect


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
        "warehouse": WarehouseResource(path=str(warehouse_path())),
    }
