"""The per-segment numbers a sync reports: every segment carries every count."""

from __future__ import annotations

import duckdb

from pipeline.lib.sync.ledger import SyncLedger
from pipeline.lib.sync.report import segment_report
from pipeline.lib.sync.run import SyncResult


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.customer_segments as select * from (values"
        " ('c1', 'vip', false, true), ('c2', 'vip', true, true), ('c3', 'win_back', false, false))"
        " as t(customer_id, segment, is_holdout, is_marketable)"
    )
    SyncLedger(con, "mailchimp")  # creates the ledger's tables
    con.execute(
        "insert into activation.sync_memberships values"
        " ('mailchimp', 'vip', 'c1', 'm1', 'added', now(), 'r1'),"
        " ('mailchimp', 'cart_abandoners', 'c9', 'm9', 'removing', now(), 'r1')"
    )
    return con


def test_a_segment_only_the_plan_names_still_reports_what_is_on_the_list():
    result = SyncResult("r2", "mailchimp", dry_run=False)
    planned = {"adds": 0, "removes": 1, "held_back_for_consent": 0}
    result.plan = {"groups": {"cart_abandoners": planned, "vip": {**planned, "removes": 0}}}
    report = segment_report(_warehouse(), "mailchimp", result)
    assert report["cart_abandoners"] == {
        "members": 0, "holdout": 0, "marketable": 0, "on_list": 0, **planned,
    }  # fmt: skip
    assert report["vip"]["on_list"] == 1 and report["vip"]["members"] == 2
    assert report["win_back"] == {"members": 1, "holdout": 0, "marketable": 0, "on_list": 0}
