"""The stage benchmark's measuring: a run's seconds, peak memory, step stages and sync calls."""

from __future__ import annotations

import sys

from bench.stages import Measured, print_table, run_measured

FAKE_RUN = """
import sys
block = bytearray(64 * 2**20)  # a peak the measurement must see
print("  [     3s] done    shopify__orders in 2s")
print("  [     5s] done    klaviyo__events in 3s")
print("  [     9s] done    dbt_customer_features in 4s")
print("  [    12s] done    ml__customer_scores in 1s")
print("  mailchimp     sync synced: 40 rows planned, 40 ok, 0 failed, 0 skipped; "
      "API calls 7 reads, 2 writes")
sys.exit(int(sys.argv[1]))
"""


def test_a_run_is_measured_from_outside_and_split_by_its_steps(tmp_path):
    measured = run_measured([sys.executable, "-c", FAKE_RUN, "0"], {}, tmp_path / "run.log")
    assert measured.ok and measured.seconds > 0
    assert measured.peak_mib >= 64
    assert measured.stages == {"ingest (incl. API wait)": 5.0, "dbt features, full": 4.0,
                               "scoring with reasons": 1.0}  # fmt: skip
    assert measured.syncs == {"mailchimp": "2 writes, 7 reads (40 rows planned)"}
    assert "done    klaviyo__events" in (tmp_path / "run.log").read_text()
    failed = run_measured([sys.executable, "-c", FAKE_RUN, "3"], {}, tmp_path / "failed.log")
    assert not failed.ok


def test_the_table_puts_each_figure_beside_its_target(capsys):
    run = Measured(15.0, 900.0, True, {"scoring with reasons": 2.0}, {"klaviyo": "0 writes"})
    print_table({10_000: {"generate": run, "first load (make demo)": run,
                          "next day (make next-day)": Measured(30.0, 1000.0, False)}})  # fmt: skip
    table = capsys.readouterr().out
    assert "15 s 900 MiB <=180 s, <=2 GB" in table
    assert "30 s 1,000 MiB FAILED <=20 s, <=8 GB" in table
    assert "klaviyo sync calls" in table and "0 writes" in table
