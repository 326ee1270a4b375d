"""The sandbox command line: clear errors for bad input, and the truth export end to end."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from sandbox.__main__ import main

STORE = ["--customers", "300", "--days", "120", "--seed", "5"]


def test_now_beyond_the_simulated_future_is_refused_clearly(tmp_path, capsys):
    code = main(["truth", *STORE, "--data-dir", str(tmp_path), "--now", "2025-05-01",
                 "--out", str(tmp_path / "t.parquet")])  # fmt: skip
    assert code == 2
    assert "outside what this store simulated (2024-01-01 to 2025-04-30" in capsys.readouterr().err


def test_truth_follows_a_clock_in_the_simulated_future(tmp_path, capsys):
    out = tmp_path / "truth.parquet"
    code = main(["truth", *STORE, "--data-dir", str(tmp_path), "--now", "2024-05-02",
                 "--out", str(out)])  # fmt: skip
    table = pq.read_table(out).to_pandas()
    assert code == 0
    assert "as of 2024-05-02" in capsys.readouterr().out
    # 30 and 90 days ahead were simulated; 365 days ahead runs past the simulation's end.
    assert table["actual_orders_90"].notna().all() and table["actual_orders_90"].sum() > 0
    assert table["actual_orders_365"].isna().all()


def test_bad_fault_spec_is_refused_before_anything_starts(tmp_path, capsys):
    code = main(["serve", *STORE, "--data-dir", str(tmp_path), "--faults", "429=lots"])
    assert code == 2
    assert "429=lots" in capsys.readouterr().err


def test_truth_writes_one_row_per_customer_known_at_now(tmp_path, capsys):
    out = tmp_path / "truth.parquet"
    code = main(["truth", *STORE, "--data-dir", str(tmp_path), "--now", "2024-03-01",
                 "--out", str(out)])  # fmt: skip
    table = pq.read_table(out).to_pandas()
    assert code == 0
    assert (
        f"wrote the truth about {len(table)} customers as of 2024-03-01" in capsys.readouterr().out
    )
    assert table["signup_at"].max() < pd.Timestamp("2024-03-01")
    assert table["customer_id"].is_unique
