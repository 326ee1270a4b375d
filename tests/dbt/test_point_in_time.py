"""Point in time: features as of D never change when data after D arrives.

The small store is ingested twice: served with an early clock (`--now` 2024-06-03) and with its
default later one (the session's first build of the small store), each built by dbt. Every
feature row both builds hold for an as-of date up to the early clock must be identical. The
same comparison, with the project's `before_as_of` rule overridden to peek one day ahead, must
find differences: the check can fail.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from pipeline.lib.ingest.warehouse import connect
from sandbox.faults import FaultSpec
from sandbox.server import build_app, open_sandbox
from sandbox.threaded_server import ThreadedServer
from tests.conftest import SMALL_STORE
from tests.dbt.dbt_helpers import DBT_DIR, dbt_build
from tests.defs.ingest_helpers import HISTORY, ingest

pytestmark = pytest.mark.integration

EARLY = date(2024, 6, 3)  # a Monday: a snapshot date both builds keep
PEEK_ONE_DAY = """
{% macro before_as_of(happened, as_of) -%}
    {{ happened }} < {{ as_of }} + 1
{%- endmacro %}
"""


def _ingest_as_of(root: Path, now: date | None, warehouse: Path) -> None:
    clock = datetime.combine(now, datetime.min.time()) if now else None
    ctx = open_sandbox(SMALL_STORE, root / "sandbox", now=clock, rate_limit_scale=50)
    app = build_app(ctx, FaultSpec(), bulk_dir=root / "bulk")
    last = (now.fromordinal(now.toordinal() - 1)).isoformat() if now else HISTORY[1]
    with ThreadedServer(app) as server:
        result = ingest(server.url, warehouse, HISTORY[0], last)
    assert result.success


def _features(warehouse: Path, until: date) -> dict[tuple, tuple]:
    with connect(warehouse, read_only=True) as con:
        rows = con.execute(
            "select * from marts.customer_features where as_of_date <= ?", [until]
        ).fetchall()
    return {(row[0], row[1]): row for row in rows}


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory, first_build):
    root = tmp_path_factory.mktemp("pit")
    early, late = root / "early.duckdb", root / "late.duckdb"
    _ingest_as_of(root / "early", EARLY, early)
    shutil.copy(first_build[0], late)  # the store at its default, later clock, built
    peek_project = root / "peek_project"
    shutil.copytree(DBT_DIR, peek_project, ignore=shutil.ignore_patterns("target", "logs"))
    (peek_project / "macros" / "before_as_of.sql").write_text(PEEK_ONE_DAY)
    built = {}
    # The features and what they read; the data tests are the other dbt builds' to run.
    features_only = ("--select", "+customer_features", "--exclude", "resource_type:test",
                     "resource_type:unit_test")  # fmt: skip
    dbt_build(early, root / "early" / "dbt", *features_only)
    for name, warehouse in (("early", early), ("late", late)):
        peeking = root / f"{name}-peek.duckdb"
        shutil.copy(warehouse, peeking)
        dbt_build(peeking, root / name / "peek", *features_only, project_dir=peek_project)
        built[name], built[f"{name}-peek"] = warehouse, peeking
    return built


def _shared_rows(early: Path, late: Path) -> tuple[dict, dict]:
    before, after = _features(early, EARLY), _features(late, EARLY)
    shared = before.keys() & after.keys()
    return {k: before[k] for k in shared}, {k: after[k] for k in shared}


def test_later_data_leaves_earlier_feature_rows_unchanged(warehouses):
    before, after = _shared_rows(warehouses["early"], warehouses["late"])
    dates = {as_of for _, as_of in before}
    assert len(dates) >= 20 and len(before) > 4_000  # weekly snapshots since January
    changed = [key for key in before if before[key] != after[key]]
    assert changed == [], f"{len(changed)} feature rows changed, e.g. {changed[:3]}"


def _identities(warehouse: Path) -> dict[str, str]:
    with connect(warehouse, read_only=True) as con:
        return dict(
            con.execute(
                "select identity_key, customer_id from intermediate.int_customer_identities"
            ).fetchall()
        )


def test_snapshot_rows_survive_unless_a_later_link_renamed_the_customer(warehouses):
    before = _features(warehouses["early"], EARLY)
    after = _features(warehouses["late"], EARLY)
    # the late build keeps older dates on snapshot Mondays only
    mondays = {key for key in before if key[1].isoweekday() == 1}
    missing = {customer for customer, _ in mondays - after.keys()}
    # A person linked later to someone with a smaller email takes that person's id: the
    # rows move to the new id (from the link on), they are not lost to a bug.
    early_ids, late_ids = _identities(warehouses["early"]), _identities(warehouses["late"])
    for customer in missing:
        keys = [key for key, owner in early_ids.items() if owner == customer]
        assert keys and all(late_ids.get(key) not in (None, customer) for key in keys), customer
    assert len(missing) <= 0.01 * len({customer for customer, _ in mondays})


def test_a_feature_that_peeks_one_day_ahead_is_caught(warehouses):
    before, after = _shared_rows(warehouses["early-peek"], warehouses["late-peek"])
    changed = [key for key in before if before[key] != after[key]]
    assert changed, "peeking features should differ once the peeked day's data arrives"
    assert {as_of for _, as_of in changed} == {EARLY}
