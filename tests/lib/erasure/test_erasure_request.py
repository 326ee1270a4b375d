"""Erasure requests: every supported form parses to the right identifiers, and bad input fails
with an error that says where, never what (the value is the very email being erased)."""

from __future__ import annotations

import json

import pytest

from pipeline.lib.erasure.request import (
    REDACT_SOURCE,
    ErasureRequest,
    ErasureRequestError,
    parse_redact_payload,
    parse_request_file,
    parse_request_text,
)

CUSTOMER_ID = "0123456789abcdef0123456789abcdef"


def test_one_identifier_per_line_of_every_kind():
    text = (
        "# erasures of the week\n"
        "  Ann.Lee@Example.COM \n\n"
        f"{CUSTOMER_ID}\n"
        "shopify:6100000000001\n"
        "klaviyo:01J00070000000000000000000\n"
        "files:C-17\n"
        "gid://shopify/Customer/42\n"
    )
    assert parse_request_text(text) == [
        ErasureRequest(emails=("ann.lee@example.com",)),
        ErasureRequest(customer_ids=(CUSTOMER_ID,)),
        ErasureRequest(shopify_customer_gids=("gid://shopify/Customer/6100000000001",)),
        ErasureRequest(klaviyo_profile_ids=("01J00070000000000000000000",)),
        ErasureRequest(files_customer_ids=("C-17",)),
        ErasureRequest(shopify_customer_gids=("gid://shopify/Customer/42",)),
    ]


def test_repeated_lines_are_one_request():
    assert parse_request_text("a@b.io\nA@B.io\n") == [ErasureRequest(emails=("a@b.io",))]


def test_csv_rows_are_one_person_each():
    text = f"name,Email,customer_id\nAnn,ann@x.io,\nBob,,{CUSTOMER_ID}\nCy,cy@x.io,{CUSTOMER_ID}\n"
    assert parse_request_text(text) == [
        ErasureRequest(emails=("ann@x.io",)),
        ErasureRequest(customer_ids=(CUSTOMER_ID,)),
        ErasureRequest(emails=("cy@x.io",), customer_ids=(CUSTOMER_ID,)),
    ]


def test_a_single_column_csv_with_a_header():
    assert parse_request_text("email\nann@x.io\n") == [ErasureRequest(emails=("ann@x.io",))]


def test_a_redact_payload_with_numeric_ids():
    payload = {
        "shop_id": 954889,
        "shop_domain": "shop.myshopify.com",
        "customer": {"id": 191167, "email": " John@Example.com", "phone": "555-625-1199"},
        "orders_to_redact": [299938, "gid://shopify/Order/280263"],
    }
    assert parse_redact_payload(payload) == ErasureRequest(
        emails=("john@example.com",),
        shopify_customer_gids=("gid://shopify/Customer/191167",),
        shopify_order_gids=("gid://shopify/Order/299938", "gid://shopify/Order/280263"),
        source=REDACT_SOURCE,
    )


def test_a_redact_payload_file(tmp_path):
    path = tmp_path / "redact.json"
    path.write_text(json.dumps({"customer": {"id": 7}, "orders_to_redact": []}))
    [request] = parse_request_file(path)
    assert request.shopify_customer_gids == ("gid://shopify/Customer/7",)
    assert request.source == REDACT_SOURCE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("  \n# only a comment\n", "names nobody"),
        ("secret.person@gmail\n", "line 1: not a valid email address"),
        ("ok@x.io\nsecret person\n", "line 2: not an email, a customer_id"),
        ("shopify:abc\n", "line 1: not a Shopify customer id"),
        ("name,phone\nAnn,555\n", "names neither an email nor a customer_id"),
        ("email,customer_id\nok@x.io,\n,\n", None),  # a blank row is skipped
        ("email,customer_id\nok@x.io,secret\n", "row 2: customer_id is not 32 hexadecimal"),
        ("email,name\n,Secret Person\n", "row 2: no email and no customer_id"),
        ('{"customer": {"id": 1}', "not valid JSON (line 1"),
        ('{"shop_id": 1}', "no `customer` object"),
        ('{"customer": {"phone": "555"}}', "names no customer"),
        ('{"customer": {"id": true}}', "customer.id: a Shopify customer id must be a number"),
        ('{"customer": {"id": "gid://shopify/Order/1"}}', "customer.id: not a Shopify customer"),
        ('{"customer": {"id": 1}, "orders_to_redact": 5}', "must be a list"),
        ('{"customer": {"id": 1}, "orders_to_redact": ["x"]}', "orders_to_redact[0]: not a"),
        ('{"customer": {"email": "secret@nowhere"}}', "customer.email: not a valid email"),
        ("[1, 2]", "payload must be a JSON object"),
    ],
)
def test_bad_requests_say_where_and_never_echo_the_value(text, message):
    if message is None:
        assert parse_request_text(text) == [ErasureRequest(emails=("ok@x.io",))]
        return
    with pytest.raises(ErasureRequestError) as raised:
        parse_request_text(text)
    assert message in str(raised.value)
    assert "secret" not in str(raised.value).lower()


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ErasureRequestError, match="cannot read the erasure request file"):
        parse_request_file(tmp_path / "absent.txt")


def test_a_request_shows_counts_not_identifiers():
    request = ErasureRequest(emails=("secret@x.io",), customer_ids=(CUSTOMER_ID,))
    assert "secret" not in repr(request) and CUSTOMER_ID not in repr(request)
    assert "emails=1" in repr(request)
