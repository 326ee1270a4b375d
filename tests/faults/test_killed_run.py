"""A run killed by the OS (kill -9) does not stall every later run: with the instance's run
monitoring (`dagster.yaml`), the daemon marks it failed and frees its `duckdb` pool slot, and
the next run proceeds. The daemon's two monitoring passes are called directly, on the
repository's `dagster.yaml` with its timeouts shortened to a second."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._daemon.monitoring.concurrency import execute_concurrency_slots_iteration
from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("killed_run_worker.py")
SHORT = {"max_runtime_seconds": 1, "free_slots_after_run_end_seconds": 1}


class _Workspace:
    """What the monitoring passes need from the daemon's workspace: the instance."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance

    def create_request_context(self) -> None:
        return None


@pytest.fixture
def instance_dir(tmp_path, monkeypatch) -> Path:
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert config["run_monitoring"]["enabled"]
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    assert config["run_monitoring"]["max_runtime_seconds"] > 0
    config["run_monitoring"] |= SHORT
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("FORESIGHT_DAGSTER_STORAGE", str(tmp_path / "storage"))
    return tmp_path


@dg.asset(pool="duckdb")
def next_writer() -> int:
    return 1


def test_a_killed_run_is_failed_and_frees_its_slot_so_the_next_run_proceeds(instance_dir):
    marker = instance_dir / "holding"
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), str(instance_dir), str(marker), "120"],
        env=os.environ | {"DAGSTER_HOME": str(instance_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never ran"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        [killed] = instance.get_runs()
        assert killed.status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots
        time.sleep(1.1)  # past the (shortened) maximum runtime
        workspace = _Workspace(instance)
        list(execute_run_monitoring_iteration(workspace, logging.getLogger("monitor")))
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
        time.sleep(1.1)  # past the (shortened) slot-freeing delay
        list(execute_concurrency_slots_iteration(workspace, logging.getLogger("slots")))
        assert not instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots

        outcome: list[bool] = []
        runner = threading.Thread(
            target=lambda: outcome.append(dg.materialize([next_writer], instance=instance).success),
            daemon=True,
        )
        runner.start()
        runner.join(timeout=60)
        assert outcome == [True], "the next run did not get the duckdb slot"
