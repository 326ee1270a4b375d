"""A bulk operation's JSONL output re-nested into records: children into their parent's list,
and output that is not grouped by parent, or holds children the query did not ask for, refused."""

from __future__ import annotations

import pytest

from pipeline.lib.clients.http import ApiError
from pipeline.lib.clients.shopify_bulk import renest
from pipeline.lib.clients.shopify_queries import ENTITIES

ORDER = '{"id":"gid:\\/\\/shopify\\/Order\\/1","name":"#1001"}'
LINE = '{"id":"gid:\\/\\/shopify\\/LineItem\\/%d","__parentId":"gid:\\/\\/shopify\\/Order\\/%d"}'


def test_renest_puts_children_into_their_parents_list():
    lines = [ORDER, LINE % (10, 1), LINE % (11, 1), '{"id":"gid://shopify/Order/2"}', ""]
    records = list(renest(lines, ENTITIES["orders"]))
    assert records == [
        {
            "id": "gid://shopify/Order/1",
            "name": "#1001",
            "lineItems": [{"id": "gid://shopify/LineItem/10"}, {"id": "gid://shopify/LineItem/11"}],
        },
        {"id": "gid://shopify/Order/2", "lineItems": []},
    ]


def test_renest_refuses_ungrouped_output():
    lines = [ORDER, '{"id":"gid://shopify/Order/2"}', LINE % (10, 1)]
    with pytest.raises(ApiError, match="not grouped"):
        list(renest(lines, ENTITIES["orders"]))


def test_renest_refuses_children_it_did_not_ask_for():
    lines = [ORDER, '{"id":"gid://shopify/Fulfillment/5","__parentId":"gid://shopify/Order/1"}']
    with pytest.raises(ApiError, match="did not ask for"):
        list(renest(lines, ENTITIES["orders"]))
