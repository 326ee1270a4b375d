"""The sync assets in the first refresh of a small shop on every platform: the daily job run again
over its last day makes zero write calls; a dry run calls nothing; an oversized change is
blocked by a failing check, and passes once new activity explains it; Mailchimp without a key
records "not configured" and calls nothing."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from pipeline.cli.blocked_sync import blocked_destinations, failed_step_keys
from pipeline.defs.activation.sync import CHECK, mailchimp_sync, sync_assets
from pipeline.defs.resources import MailchimpResource
from pipeline.defs.transform.dbt import dbt_resource
from pipeline.lib.ingest.warehouse import connect
from tests.defs.ingest_helpers import metadata, resources

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("every_platform_shop")]
SYNCS = ("klaviyo_sync", "mailchimp_sync")


def all_resources(url: str, warehouse) -> dict:
    return {
        **resources(url, warehouse),
        "mailchimp": MailchimpResource(api_url=f"{url}/3.0", api_key="sandbox-key"),
        "dbt": dbt_resource(),
    }


def sync_only(url: str, warehouse, **config) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {f"activation__{name}": {"config": config} for name in SYNCS}}
    return dg.materialize(
        sync_assets,
        resources=all_resources(url, warehouse),
        run_config=run_config,
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def store(every_platform_shop, tmp_path_factory):
    """The shared shop's two runs, with a copy of its warehouse these tests may change."""
    url, shared, first, second = every_platform_shop
    warehouse = shutil.copy(shared, tmp_path_factory.mktemp("activation") / "warehouse.duckdb")
    return url, warehouse, first, second


def test_the_first_refresh_syncs_then_a_second_run_writes_nothing(store):
    _, warehouse, first, second = store
    assert first.success and second.success
    assert (first.job_def.name, second.job_def.name) == ("first_refresh", "daily_refresh")
    for name in SYNCS:
        before, after = metadata(first, "activation", name), metadata(second, "activation", name)
        assert before["status"] == "synced" and before["write_calls"] > 0, name
        assert before["failed"] == 0 and before["ok"] > 0, name
        assert (after["write_calls"], after["ok"], after["failed"]) == (0, 0, 0), name
    klaviyo = metadata(first, "activation", "klaviyo_sync")["per_segment"]
    assert any(s["on_list"] > 0 for s in klaviyo.values())
    assert all(s["on_list"] <= s["marketable"] for s in klaviyo.values())
    checks = [c for c in second.get_asset_check_evaluations() if c.check_name == CHECK]
    assert len(checks) == 2 and all(c.passed for c in checks)
    with connect(warehouse, read_only=True) as con:
        wrote = con.execute(
            "select distinct run_id, destination from activation.sync_ledger"
            " where outcome = 'ok' order by destination"
        ).fetchall()
    assert wrote == [(first.run_id, "klaviyo"), (first.run_id, "mailchimp")]


def test_a_dry_run_calls_nothing_and_records_the_planned_diff(store):
    url, warehouse, _, _ = store
    with connect(warehouse) as con:  # forget the Klaviyo lists: everything is planned again
        con.execute("delete from activation.sync_memberships where destination = 'klaviyo'")
    result = sync_only(url, warehouse, dry_run=True)
    found = metadata(result, "activation", "klaviyo_sync")
    assert found["status"] == "dry run" and found["api_requests"] == 0
    assert found["write_calls"] == 0 and found["sent"] == 0
    plan = found["planned_diff"]
    assert sum(g["adds"] for g in plan["groups"].values()) > 0
    assert plan["sample"] and "@" not in str(plan)


def test_an_oversized_change_is_blocked_by_a_failing_check(store):
    url, warehouse, _, _ = store
    with connect(warehouse) as con:  # half of one list is missing from the ledger
        con.execute(
            """delete from activation.sync_memberships where destination = 'mailchimp'
            and group_name = (select min(group_name) from activation.sync_memberships
                              where destination = 'mailchimp')
            and hash(customer_id) % 2 = 0"""
        )
    result = sync_only(url, warehouse, min_changes=0, max_change_share=0.01)
    found = metadata(result, "activation", "mailchimp_sync")
    assert found["status"] == "blocked" and found["write_calls"] == 0
    assert found["blast_radius"]
    check = next(
        c for c in result.get_asset_check_evaluations() if c.asset_key.path[-1] == "mailchimp_sync"
    )
    assert not check.passed and "blast-radius" in check.description
    assert "no new activity of their own since the scores as of" in check.description
    # The alert reads the check's findings: the numbers, explained moves included.
    assert "explained by new activity" in check.metadata["findings"].value
    built = {"activation/mailchimp_sync": found}
    assert blocked_destinations(failed_step_keys([result]), built) == ["mailchimp"]


def test_the_same_moves_pass_once_new_activity_explains_them(store):
    url, warehouse, _, _ = store
    with connect(warehouse) as con:
        (scores_as_of,) = con.execute("select max(as_of_date) from ml.customer_scores").fetchone()
        synced = con.execute(
            "select destination, scores_as_of from activation.sync_scores_synced order by 1"
        ).fetchall()
        assert synced == [("klaviyo", scores_as_of), ("mailchimp", scores_as_of)]
        # As if Mailchimp last synced scores from before the shop existed: every customer is
        # new since then, so the moves the previous test held back are all explained.
        con.execute(
            "update activation.sync_scores_synced set scores_as_of = date '1900-01-01'"
            " where destination = 'mailchimp'"
        )
    result = sync_only(url, warehouse, min_changes=0, max_change_share=0.01)
    found = metadata(result, "activation", "mailchimp_sync")
    assert found["status"] == "synced" and found["write_calls"] > 0 and not found["blast_radius"]
    moves = found["membership_moves"]
    assert moves["unexplained"] == 0 and moves["explained_by_new_activity"] > 0
    with connect(warehouse, read_only=True) as con:
        (recorded,) = con.execute(
            "select scores_as_of from activation.sync_scores_synced where destination = 'mailchimp'"
        ).fetchone()
    assert recorded == scores_as_of


def test_mailchimp_without_a_key_is_not_configured_and_calls_nothing(tmp_path):
    result = dg.materialize(
        [mailchimp_sync],
        resources={
            "mailchimp": MailchimpResource(),
            "warehouse": resources("http://127.0.0.1:9", tmp_path / "w.duckdb")["warehouse"],
        },
    )
    assert metadata(result, "activation", "mailchimp_sync") == {"status": "not configured"}
    half = MailchimpResource(api_url="http://127.0.0.1:9/3.0")
    with pytest.raises(ValueError, match="MAILCHIMP_API_KEY is not"):
        assert half.configured
