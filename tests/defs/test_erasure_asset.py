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


def test_platforms_without_settings_are_left_out_and_named(tmp_path):
    request = tmp_path / "request.txt"
    request.write_text("someone@example.com\n")
    result = dg.materialize(
        [erasures],
        resources={
            "klaviyo": KlaviyoResource(),
            "mailchimp": MailchimpResource(),
            "warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb")),
        },
        run_config={"ops": {"activation__erasures": {"config": {"request_path": str(request)}}}},
    )
    [event] = result.get_asset_materialization_events()
    counts = {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}
    assert counts["platforms"] == "none"
    assert counts["klaviyo_deletion_requests"] == counts["mailchimp_members_deleted"] == 0
