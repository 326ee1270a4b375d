"""Every common shop setup runs the first daily refresh end to end against a small sandbox shop:
Shopify + Klaviyo (with Mailchimp too, the session's shared shop), Shopify + Mailchimp, Klaviyo
alone (its Placed Order events are the orders), an imported CSV with Mailchimp as destination.
Each yields customers, features, scores and segments, email features from the shop's marketing
platform (Klaviyo's when it has both), leaves the platforms it does not have untouched ("not
configured"), tags the run with the order sources really used, and its syncs are consent-safe as
read back through the platforms' APIs."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from pipeline.defs.ingest.files import files_orders
from pipeline.defs.resources import WarehouseResource
from pipeline.lib.clients.http import ApiSession
from pipeline.lib.clients.klaviyo_writes import KlaviyoWriteClient
from pipeline.lib.clients.mailchimp import MailchimpClient
from pipeline.lib.ingest.warehouse import connect
from tests.defs.ingest_helpers import metadata
from tests.integration.setups_helpers import KEY, run_first_refresh, setup_sandbox, write_order_csv

# A first refresh is every daily partition of every asset plus a first training: about a
# minute on an idle two-core machine, far more on a busy one.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(1800),
    pytest.mark.xdist_group("every_platform_shop"),
]
SEGMENT_PREFIX = "Foresight: "

SETUPS = {
    "shopify+klaviyo+mailchimp": ({"shopify", "klaviyo", "mailchimp"}, {"shopify"}),
    "shopify+mailchimp": ({"shopify", "mailchimp"}, {"shopify"}),
    "klaviyo": ({"klaviyo"}, {"klaviyo"}),
    "csv+mailchimp": ({"mailchimp"}, {"files"}),
}


def _counts(warehouse) -> dict[str, int]:
    tables = ("marts.customers", "marts.orders", "marts.order_items", "marts.customer_features",
              "ml.customer_scores", "marts.customer_segments")  # fmt: skip
    with connect(warehouse, read_only=True) as con:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def _klaviyo_listed_without_consent(url: str, warehouse) -> tuple[int, int]:
    """(profiles on our lists, of which may not be emailed marketing), read from Klaviyo."""
    client = KlaviyoWriteClient(url, KEY, ApiSession("Klaviyo", "KLAVIYO_API_KEY"))
    with connect(warehouse, read_only=True) as con:
        query = "select distinct group_name from activation.sync_memberships"
        segments = [s for (s,) in con.execute(query).fetchall()]
    listed: set[str] = set()
    for segment in segments:
        list_id = client.find_list(SEGMENT_PREFIX + segment)
        if list_id is not None:
            listed |= set(client.list_member_ids(list_id))
    consent = client.marketing_consent(ids=sorted(listed))
    return len(listed), sum(not consent.get(p, (p, False))[1] for p in listed)


def _mailchimp_tagged_without_consent(url: str) -> tuple[int, int]:
    """(members with one of our tags, of which not subscribed), read from Mailchimp."""
    client = MailchimpClient(f"{url}/3.0", KEY)
    list_id = client.find_audience()["id"]
    tagged = [
        member["status"]
        for member in client.iter_members(list_id, fields=["status", "tags"])
        if any(tag["name"].startswith(SEGMENT_PREFIX) for tag in member.get("tags") or [])
    ]
    return len(tagged), sum(status != "subscribed" for status in tagged)


@pytest.fixture
def first_refresh(request, tmp_path, every_platform_shop):
    """(url, warehouse, result, seconds) of the setup's first refresh, its sandbox up."""
    platforms, order_sources = SETUPS[request.param]
    if platforms == {"shopify", "klaviyo", "mailchimp"}:
        url, warehouse, first, _ = every_platform_shop
        yield url, warehouse, first, None
        return
    warehouse = tmp_path / "warehouse.duckdb"
    with setup_sandbox(tmp_path / "sandbox") as url:
        if "files" in order_sources:
            csv = tmp_path / "orders.csv"
            assert write_order_csv(tmp_path / "sandbox", csv) > 0
            imported = dg.materialize(
                [files_orders],
                resources={"warehouse": WarehouseResource(path=str(warehouse))},
                run_config={"ops": {"files__orders": {"config": {"path": str(csv)}}}},
            )
            assert imported.success
        began = time.perf_counter()
        result = run_first_refresh(url, warehouse, platforms)
        yield url, warehouse, result, time.perf_counter() - began


@pytest.mark.parametrize("first_refresh", list(SETUPS), indirect=True)
def test_each_setup_runs_the_daily_job_end_to_end(request, first_refresh):
    setup = request.node.callspec.params["first_refresh"]
    platforms, order_sources = SETUPS[setup]
    url, warehouse, result, seconds = first_refresh
    assert result.success, setup
    counts = _counts(warehouse)
    print(f"{setup}: first_refresh in {seconds or 0:.1f}s (0: shared, timed elsewhere); {counts}")
    assert all(rows > 0 for rows in counts.values()), counts
    with connect(warehouse, read_only=True) as con:
        query = "select distinct source_system from marts.orders"
        sources = {s for (s,) in con.execute(query).fetchall()}
    assert sources == order_sources
    for platform, table in (
        ("shopify", "customers"),
        ("klaviyo", "profiles"),
        ("mailchimp", "email_activity"),
    ):
        status = metadata(result, platform, table)
        expected = "ingested" if platform in platforms else "not configured"
        assert status["status"] == expected, platform
    tags = result.dagster_run.tags
    assert tags["foresight/platforms"] == ",".join(
        p for p in ("shopify", "klaviyo", "mailchimp") if p in platforms
    )
    # Only the sources whose orders the marts hold (with Shopify, Klaviyo's Placed Order
    # events are not orders of their own).
    assert set(tags["foresight/order_sources"].split(",")) == order_sources
    # Email engagement comes from whichever marketing platform the shop has.
    with connect(warehouse, read_only=True) as con:
        query = (
            "select count(*) filter (where emails_received_90d > 0),"
            " count(*) filter (where emails_opened_90d > 0) from marts.customer_features"
        )
        received, opened = con.execute(query).fetchone()
        platforms_query = "select distinct email_platform from marts.email_events"
        email_platforms = {p for (p,) in con.execute(platforms_query).fetchall()}
    assert received > 0 and opened > 0, (received, opened)
    # With both, Klaviyo's activity is counted (Mailchimp's would count each send twice).
    assert email_platforms == ({"klaviyo"} if "klaviyo" in platforms else {"mailchimp"})
    for destination in ("klaviyo", "mailchimp"):
        sync = metadata(result, "activation", f"{destination}_sync")
        if destination not in platforms:
            assert sync == {"status": "not configured"}
            continue
        assert sync["status"] == "synced" and sync["failed"] == 0 and sync["ok"] > 0
    if "klaviyo" in platforms:
        listed, without_consent = _klaviyo_listed_without_consent(url, warehouse)
        assert listed > 0 and without_consent == 0
    if "mailchimp" in platforms:
        tagged, not_subscribed = _mailchimp_tagged_without_consent(url)
        assert not_subscribed == 0, tagged


def test_a_shop_with_no_source_of_orders_gets_a_clear_error(tmp_path):
    with setup_sandbox(tmp_path / "sandbox") as url:
        result = run_first_refresh(url, tmp_path / "warehouse.duckdb", {"mailchimp"})
    assert not result.success
    failures = [
        event.event_specific_data.error
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    assert [e for e in failures if "no source of orders" in str(e.message) + str(e.cause)]
