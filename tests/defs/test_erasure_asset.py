"""The erasure asset refuses unclear run config before touching the warehouse or a platform."""

from __future__ import annotations

import dagster as dg
import pytest

from pipeline.defs.activation.erasure import erasures
from pipeline.defs.resources import KlaviyoResource, MailchimpResource, WarehouseResource
from pipeline.lib.erasure.request import ErasureRequestError


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "give exactly one of request_path and payload"),
        (
            {"request_path": "x.txt", "payload": "{}"},
            "give exactly one of request_path and payload",
        ),
        ({"payload": '{"customer": {"phone": "555"}}'}, "names no customer"),
    ],
)
def test_unclear_requests_fail_before_anything_happens(tmp_path, config, message):
    warehouse = tmp_path / "warehouse.duckdb"
    resources = {
        # nothing listens there: a call to Klaviyo or Mailchimp would fail differently
        "klaviyo": KlaviyoResource(api_url="http://127.0.0.1:9", api_key="sandbox-key"),
        "mailchimp": MailchimpResource(api_url="http://127.0.0.1:9/3.0", api_key="sandbox-key"),
        "warehouse": WarehouseResource(path=str(warehouse)),
    }
    with pytest.raises(ErasureRequestError, match=message):
        dg.materialize(
            [erasures],
            resources=resources,
            run_config={"ops": {"activation__erasures": {"config": config}}},
        )
    assert not warehouse.exists()
