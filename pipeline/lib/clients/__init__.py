"""Platform API clients (no Dagster imports): Shopify GraphQL Admin, Klaviyo REST, Mailchimp
Marketing, shared HTTP."""

from pipeline.lib.clients.errors import ApiError, RejectedCredentialsError, RequestRejectedError
from pipeline.lib.clients.http import ApiSession, RequestStats
from pipeline.lib.clients.klaviyo import KlaviyoClient
from pipeline.lib.clients.mailchimp import MailchimpClient, MemberOutcome, MemberUpsert
from pipeline.lib.clients.shopify import SHOPIFY_ENTITIES, ShopifyClient

__all__ = [
    "SHOPIFY_ENTITIES",
    "ApiError",
    "ApiSession",
    "KlaviyoClient",
    "MailchimpClient",
    "MemberOutcome",
    "MemberUpsert",
    "RejectedCredentialsError",
    "RequestRejectedError",
    "RequestStats",
    "ShopifyClient",
]
