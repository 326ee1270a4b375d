"""The Shopify GraphQL Admin API emulator: HTTP surface, validation, pagination, search."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from starlette.testclient import TestClient

from tests.sandbox.shopify_fixtures import (
    ENDPOINT,
    N_CUSTOMERS,
    START,
    customer_id,
    customer_ids,
    customer_updated_at,
    gql,
)


def test_wrong_or_missing_token_is_401_with_shopifys_body(shopify_client: TestClient) -> None:
    expected = {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    for headers in ({"X-Shopify-Access-Token": "nope"}, {"X-Shopify-Access-Token": ""}):
        response = shopify_client.post(
            ENDPOINT, json={"query": "{ shop { name } }"}, headers=headers
        )
        assert response.status_code == 401
        assert response.json() == expected


def test_missing_query_is_400(shopify_client: TestClient) -> None:
    response = shopify_client.post(ENDPOINT, json={"variables": {}})
    assert response.status_code == 400
    assert response.json() == {"errors": {"query": "Required parameter missing or invalid"}}


def test_application_graphql_body_and_version_header(shopify_client: TestClient) -> None:
    response = shopify_client.post(
        "/admin/api/2025-07/graphql.json",
        content="{ shop { currencyCode ianaTimezone } }",
        headers={"Content-Type": "application/graphql"},
    )
    assert response.json()["data"]["shop"] == {"currencyCode": "USD", "ianaTimezone": "Etc/UTC"}
    assert response.headers["X-Shopify-API-Version"] == "2025-07"


# --- validation ---------------------------------------------------------------------------


def test_unknown_field_is_a_shopify_shaped_validation_error(shopify_client: TestClient) -> None:
    body = gql(shopify_client, "query Q { customers(first: 1) { nodes { id fooBar } } }")
    assert "data" not in body
    [error] = body["errors"]
    assert error["message"] == "Field 'fooBar' doesn't exist on type 'Customer'"
    assert error["locations"] == [{"line": 1, "column": 44}]
    assert error["path"] == ["query Q", "customers", "nodes", "fooBar"]
    assert error["extensions"] == {
        "code": "undefinedField",
        "typeName": "Customer",
        "fieldName": "fooBar",
    }


def test_bad_arguments_are_reported_like_graphql_ruby(shopify_client: TestClient) -> None:
    body = gql(
        shopify_client, "{ customer { id } orders(first: 1, sortKey: NAME) { nodes { id } } }"
    )
    by_code = {e["extensions"]["code"]: e for e in body["errors"]}
    assert by_code["missingRequiredArguments"]["message"] == (
        "Field 'customer' is missing required arguments: id"
    )
    assert by_code["argumentLiteralsIncompatible"]["message"] == (
        "Argument 'sortKey' on Field 'orders' has an invalid value (NAME). "
        "Expected type 'OrderSortKeys'."
    )
    body = gql(shopify_client, "{ shop }")
    assert body["errors"][0]["extensions"]["code"] == "selectionMismatch"


def test_page_size_arguments_are_checked(shopify_client: TestClient) -> None:
    for args, message in (
        ("", "you must provide one of first or last"),
        ("first: 1, last: 1", "providing both first and last is not supported"),
    ):
        body = gql(
            shopify_client, f"{{ customers{f'({args})' if args else ''} {{ nodes {{ id }} }} }}"
        )
        assert body["data"] is None
        assert body["errors"][0]["message"] == message
        assert body["errors"][0]["path"] == ["customers"]
    body = gql(shopify_client, "{ customers(first: 251) { nodes { id } } }")
    assert "Expected a page size from 0 to 250" in body["errors"][0]["message"]


# --- pagination ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("ID", [customer_id(i) for i in range(1, N_CUSTOMERS + 1)]),
        (
            "UPDATED_AT",
            [
                customer_id(i)
                for i in sorted(
                    range(1, N_CUSTOMERS + 1), key=lambda i: (customer_updated_at(i), i)
                )
            ],
        ),
    ],
)
def test_forward_pages_cover_every_row_once(
    shopify_client: TestClient, sort: str, expected: list[int]
) -> None:
    seen: list[int] = []
    after = ""
    while True:
        ids, info = customer_ids(shopify_client, f"first: 7, sortKey: {sort}{after}")
        seen.extend(ids)
        assert info["hasPreviousPage"] is bool(after)
        if not info["hasNextPage"]:
            break
        after = f', after: "{info["endCursor"]}"'
    assert seen == expected


def test_backward_and_reversed_pages(shopify_client: TestClient) -> None:
    everything = [customer_id(i) for i in range(1, N_CUSTOMERS + 1)]
    ids, info = customer_ids(shopify_client, "last: 4")
    assert ids == everything[-4:]
    assert info["hasPreviousPage"] and not info["hasNextPage"]
    ids, info = customer_ids(shopify_client, f'last: 4, before: "{info["startCursor"]}"')
    assert ids == everything[-8:-4]
    assert info["hasNextPage"]
    ids, _ = customer_ids(shopify_client, "first: 3, reverse: true")
    assert ids == everything[::-1][:3]


def test_invalid_cursor_is_an_error(shopify_client: TestClient) -> None:
    body = gql(shopify_client, '{ customers(first: 2, after: "not-a-cursor") { nodes { id } } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# --- search syntax ------------------------------------------------------------------------


def _updated(predicate: Callable[[datetime], bool]) -> set[int]:
    return {i for i in range(1, N_CUSTOMERS + 1) if predicate(customer_updated_at(i))}


def _created(predicate: Callable[[datetime], bool]) -> set[int]:
    return {i for i in range(1, N_CUSTOMERS + 1) if predicate(START + timedelta(hours=i))}


T = datetime(2024, 1, 25, 9)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("updated_at:>'2024-01-25T09:00:00Z'", _updated(lambda t: t > T)),
        ("updated_at:>='2024-01-25T09:00:00Z'", _updated(lambda t: t >= T)),
        ('updated_at:<"2024-01-25T09:00:00Z"', _updated(lambda t: t < T)),
        ("updated_at:<=2024-01-25T09:00:00Z", _updated(lambda t: t <= T)),
        # The same instant written with an offset.
        ("updated_at:<=2024-01-25T08:00:00-01:00", _updated(lambda t: t <= T)),
        # A bare date is midnight in the shop's timezone (UTC).
        ("updated_at:<2024-01-25", _updated(lambda t: t < datetime(2024, 1, 25))),
        (
            "created_at:>2024-01-02T00:00:00Z AND created_at:<2024-01-02T03:00:00Z",
            _created(lambda t: datetime(2024, 1, 2) < t < datetime(2024, 1, 2, 3)),
        ),
        (
            "created_at:>2024-01-02T00:00:00Z created_at:<2024-01-02T03:00:00Z",
            _created(lambda t: datetime(2024, 1, 2) < t < datetime(2024, 1, 2, 3)),
        ),
        ("id:<=1003 OR id:>1029", {1, 2, 3, 30}),
        ("-id:>1002", {1, 2}),
    ],
)
def test_search_filters(shopify_client: TestClient, query: str, expected: set[int]) -> None:
    assert 0 < len(expected) < N_CUSTOMERS  # each case must actually discriminate
    body = gql(
        shopify_client,
        "query F($q: String) { customers(first: 250, query: $q) { nodes { legacyResourceId } } }",
        q=query,
    )
    got = {int(n["legacyResourceId"]) - 1000 for n in body["data"]["customers"]["nodes"]}
    assert got == expected
    assert "search" not in body["extensions"]


def test_exact_boundaries_of_strict_and_inclusive_comparisons(shopify_client: TestClient) -> None:
    # Customer 1 is updated at exactly 2024-01-08T10:00:00Z.
    stamp = "2024-01-08T10:00:00Z"
    nodes = "{ nodes { legacyResourceId } }"
    strict = gql(
        shopify_client, f'{{ customers(first: 250, query: "updated_at:>{stamp}") {nodes} }}'
    )
    inclusive = gql(
        shopify_client, f'{{ customers(first: 250, query: "updated_at:>={stamp}") {nodes} }}'
    )
    strict_ids = {n["legacyResourceId"] for n in strict["data"]["customers"]["nodes"]}
    inclusive_ids = {n["legacyResourceId"] for n in inclusive["data"]["customers"]["nodes"]}
    assert inclusive_ids - strict_ids == {"1001"}


def test_unknown_search_terms_are_ignored_with_a_warning(shopify_client: TestClient) -> None:
    body = gql(
        shopify_client,
        '{ customers(first: 250, query: "colour:blue AND id:<1003") { nodes { id } } }',
    )
    assert len(body["data"]["customers"]["nodes"]) == 2
    assert body["extensions"]["search"] == [
        {
            "path": ["customers"],
            "query": "colour:blue AND id:<1003",
            "warnings": [
                {
                    "field": "colour",
                    "message": "Invalid search field for this query.",
                    "code": "invalid_field",
                }
            ],
        }
    ]
