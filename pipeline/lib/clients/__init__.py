"""Platform API clients (no Dagster imports): Shopify GraphQL Admin, Klaviyo REST, shared HTTP."""

from pipeline.lib.clients.http import ApiError, ApiSession, RejectedCredentialsError, RequestStats
from pipeline.lib.clients.klaviyo import KlaviyoClient
from pipeline.lib.clients.shopify import SHOPIFY_ENTITIES, ShopifyClient

__all__ = [
    "SHOPIFY_ENTITIES",
    "ApiError",
    "ApiSession",
    "KlaviyoClient",
    "RejectedCredentialsError",
    "RequestStats",
    "ShopifyClient",
]
