"""ShopifyClient's error handling on a script: throttling, GraphQL errors in plain words and free
of emails, access denied, and caller errors."""

from __future__ import annotations

import pytest

from pipeline.lib.clients import shopify_queries
from pipeline.lib.clients.http import ApiError, RejectedCredentialsError
from pipeline.lib.clients.shopify import SHOPIFY_ENTITIES
from tests.lib.clients.sandbox_fixtures import Reply, scripted
from tests.lib.clients.shopify_client_fixtures import SPRING, client


def throttled(requested: int, available: int, restore: float = 100.0, maximum: float = 2000.0):
    return Reply(
        200,
        {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {
                "cost": {
                    "requestedQueryCost": requested,
                    "actualQueryCost": None,
                    "throttleStatus": {
                        "maximumAvailable": maximum,
                        "currentlyAvailable": available,
                        "restoreRate": restore,
                    },
                }
            },
        },
    )


def test_throttled_waits_what_the_bucket_lacks():
    slept: list[float] = []
    shop = client("https://shop.example.test/graphql.json", sleep=slept.append)
    scripted(shop.session, [throttled(500, 100), Reply(200, {"data": {"shop": {"id": "1"}}})])

    assert shop.execute("{ shop { id } }") == {"shop": {"id": "1"}}
    assert slept == [4.0]
    assert shop.session.stats.throttled_seconds == 4.0 and shop.session.stats.retries == 1


def test_a_query_bigger_than_the_bucket_is_an_error_not_a_wait():
    shop = client("https://shop.example.test/graphql.json")
    scripted(shop.session, [throttled(1500, 900, maximum=1000.0)])
    with pytest.raises(ApiError, match="holds 1000 points"):
        shop.execute("{ shop { id } }")


def test_graphql_errors_are_plain_and_free_of_emails():
    shop = client("https://shop.example.test/graphql.json")
    error = {"message": "Customer jane@example.com is invalid", "extensions": {"code": "X"}}
    scripted(shop.session, [Reply(200, {"errors": [error]})])
    with pytest.raises(ApiError) as raised:
        shop.execute("{ shop { id } }")
    assert str(raised.value) == "Shopify rejected a query: Customer <email> is invalid"


def test_access_denied_names_the_token_setting():
    shop = client("https://shop.example.test/graphql.json")
    denied = {"message": "Access denied for orders field.", "extensions": {"code": "ACCESS_DENIED"}}
    scripted(shop.session, [Reply(200, {"errors": [denied]})])
    with pytest.raises(RejectedCredentialsError, match="check SHOPIFY_ACCESS_TOKEN"):
        shop.execute("{ orders(first: 1) { edges { node { id } } } }")


def test_unknown_entities_and_empty_windows_are_caller_errors():
    shop = client("https://shop.example.test/graphql.json")
    with pytest.raises(ValueError, match="unknown Shopify entity"):
        shop.fetch_updated_between("refunds", *SPRING)
    with pytest.raises(ValueError, match="empty window"):
        shop.fetch_updated_between("orders", SPRING[1], SPRING[0])


def test_query_module_declares_every_entity():
    assert set(shopify_queries.ENTITIES) == set(SHOPIFY_ENTITIES)
