"""Erasure crashed at any statement (resolving, after the platform call, mid-purge, while
recording) and then re-run ends exactly as an uninterrupted erasure: the person gone from every
table, one `activation.erasures` row, everyone else untouched."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.lib.erasure.request import ErasureRequest
from pipeline.lib.erasure.run import erase
from tests.faults.crash_harness import Crash, CrashingConnection
from tests.lib.erasure.conftest import con as con
from tests.lib.erasure.erasure_fixtures import ANN, SALT, FakeKlaviyo, everything, mentions

REQUEST = ErasureRequest(emails=(ANN,))


def state(con: duckdb.DuckDBPyConnection) -> dict:
    """Every table's rows, sorted, with the erasure log's counts (not its timestamps)."""
    tables = sorted(
        name
        for (name,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_name <> 'erasures'"
        ).fetchall()
    )
    found = {t: sorted(map(str, con.execute(f"select * from {t}").fetchall())) for t in tables}
    found["erasures"] = con.execute(
        "select request_id, identifier_hashes, deleted_rows, klaviyo_deletions "
        "from activation.erasures"
    ).fetchall()
    return found


class CrashingKlaviyo(FakeKlaviyo):
    def request_deletion(self, **named) -> None:
        super().request_deletion(**named)
        raise Crash("after the Klaviyo deletion took effect")


def test_a_crash_after_the_platform_call_leaves_the_warehouse_and_the_rerun_converges(con):
    before = everything(con)
    with pytest.raises(Crash):
        erase(con, REQUEST, klaviyo=CrashingKlaviyo(), run_id="r", salt=SALT)
    assert everything(con) == before  # nothing deleted before the platform answered
    klaviyo = FakeKlaviyo()
    erase(con, REQUEST, klaviyo=klaviyo, run_id="r", salt=SALT)
    assert klaviyo.deletions  # the deletion is filed again: it may not have been recorded
    assert not mentions(everything(con), ANN)


@pytest.mark.parametrize("statement", range(2, 40, 6))
def test_a_crash_at_any_statement_then_a_rerun_equals_an_uninterrupted_erasure(con, statement):
    with duckdb.connect() as clean, duckdb.connect() as crashed:
        for target in (clean, crashed):
            _copy(con, target)
        erase(clean, REQUEST, klaviyo=FakeKlaviyo(), run_id="r", salt=SALT)
        with pytest.raises(Crash):
            erase(
                CrashingConnection(crashed, statement), REQUEST, klaviyo=FakeKlaviyo(),
                run_id="r", salt=SALT,
            )  # fmt: skip
        erase(crashed, REQUEST, klaviyo=FakeKlaviyo(), run_id="r", salt=SALT)
        assert state(crashed) == state(clean)


def _copy(source: duckdb.DuckDBPyConnection, target: duckdb.DuckDBPyConnection) -> None:
    """Every base table of `source`, copied into `target`."""
    for (name,) in source.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_type = 'BASE TABLE'"
    ).fetchall():
        target.execute(f"create schema if not exists {name.split('.')[0]}")
        target.register("_copy", source.sql(f"select * from {name}").arrow())
        target.execute(f"create table {name} as select * from _copy")
        target.unregister("_copy")
