"""`foresight-dbt` runs dbt in a child of a server that already imported it: the child must be
the caller's dbt in every way that matters (environment, directory, streams, exit status) and
must not outlive its caller."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from pipeline.lib.warm_dbt.client import dbt_executable, plain_dbt, socket_path

WARM = str(Path(sys.executable).parent / "foresight-dbt")
# A query DuckDB needs minutes for: the model is still running when the caller goes.
SLOW_MODEL = (
    "{{ config(materialized='table') }} "
    "select count(*) as n from range(100000000000) where (range * 7) % 13 = 1"
)


def _project(root: Path, model: str = "select 1 as n") -> Path:
    """A one-model dbt project whose profile reads the warehouse from WAREHOUSE_PATH."""
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: probe\nversion: '1.0'\nprofile: probe\nmodel-paths: [models]\n"
    )
    (root / "profiles.yml").write_text(
        "probe:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: \"{{ env_var('WAREHOUSE_PATH') }}\"\n"
    )
    (root / "models" / "probe.sql").write_text(model)
    return root


def _env(warehouse: Path) -> dict[str, str]:
    return {**os.environ, "WAREHOUSE_PATH": str(warehouse), "DO_NOT_TRACK": "1"}


def test_the_project_runs_dbt_warm():
    assert dbt_executable() == WARM


def test_a_warm_run_uses_the_callers_directory_environment_and_streams(tmp_path):
    project = _project(tmp_path / "project")
    warehouse = tmp_path / "probe.duckdb"
    peaks = tmp_path / "dbt-peaks"
    done = subprocess.run(
        [WARM, "run", "--profiles-dir", "."],
        cwd=project, env={**_env(warehouse), "FORESIGHT_DBT_PEAK_LOG": str(peaks)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Completed successfully" in done.stdout
    assert warehouse.exists(), "the child opened the warehouse the caller's environment names"
    assert (project / "target" / "run_results.json").exists(), "it ran in the caller's folder"
    # The child's peak memory, which the caller's own resource usage leaves out (KiB).
    [peak_kib] = [int(line) for line in peaks.read_text().split()]
    assert 50_000 < peak_kib < 4_000_000


def test_a_failing_command_exits_as_plain_dbt_does(tmp_path):
    project = _project(tmp_path / "project", model="select * from no_such_table")
    statuses = {}
    for name, executable in (("warm", WARM), ("plain", plain_dbt())):
        done = subprocess.run(
            [executable, "run", "--profiles-dir", ".", "--target-path", f"target-{name}"],
            cwd=project, env=_env(tmp_path / f"{name}.duckdb"), capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert "no_such_table" in done.stdout, done.stdout + done.stderr
        statuses[name] = done.returncode
    assert statuses["warm"] == statuses["plain"] == 1


def _child_running_in(folder: Path, caller: int, timeout: float = 60) -> int:
    """The pid of the process other than the caller working in `folder` (the forked dbt)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) not in (os.getpid(), caller):
                try:
                    if Path(os.readlink(entry / "cwd")) == folder:
                        return int(entry.name)
                except OSError:
                    continue
        time.sleep(0.1)
    raise AssertionError(f"no process runs in {folder}")


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = (Path("/proc") / str(pid) / "stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_the_dbt_child_does_not_outlive_its_caller(tmp_path, signum):
    project = _project(tmp_path / "project", model=SLOW_MODEL)
    caller = subprocess.Popen(
        [WARM, "run", "--profiles-dir", "."],
        cwd=project, env=_env(tmp_path / "slow.duckdb"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        for line in caller.stdout:
            if "START sql table model" in line:
                break
        child = _child_running_in(project, caller.pid)
        caller.send_signal(signum)
        caller.wait(timeout=60)
        assert _gone(child), "the dbt child kept running after its caller ended"
        assert caller.returncode != 0
    finally:
        caller.kill()
        caller.wait()


def test_a_socket_folder_others_may_enter_is_refused_and_dbt_runs_plain(tmp_path):
    # A caller sends its environment (secrets included): never to a socket others could plant.
    shared = tmp_path / f"foresight-dbt-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)
    done = subprocess.run(
        [WARM, "--version"], env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Core:" in done.stdout
    assert "not a folder private to this user" in done.stderr
    assert "running dbt directly" in done.stderr
    assert list(shared.iterdir()) == []


def _stand_in_server(tmp_path: Path, monkeypatch) -> tuple[Path, socket.socket]:
    """A socket listening where `foresight-dbt` looks for its server (under `tmp_path`; the
    callers get TMPDIR set to it)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = socket_path()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    return path, listener


def test_a_call_the_server_closes_before_starting_dbt_is_made_again(tmp_path, monkeypatch):
    # A server going idle as a call arrives closes it unanswered: nothing ran, so the caller
    # calls again, and a new server runs it.
    path, listener = _stand_in_server(tmp_path, monkeypatch)
    calls = []

    def close_the_first_call():
        conn, _ = listener.accept()
        calls.append(conn.recv(65536))
        # Gone before the caller learns the call was closed, as a server that went idle is.
        listener.close()
        path.unlink()
        conn.close()

    closer = threading.Thread(target=close_the_first_call)
    closer.start()
    try:
        done = subprocess.run(
            [WARM, "--version"], env={**os.environ, "TMPDIR": str(tmp_path)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        closer.join(timeout=10)
        assert len(calls) == 1 and calls[0], "the first call reached the closing server"
        assert done.returncode == 0, done.stderr
        assert "Core:" in done.stdout
        assert "running dbt directly" not in done.stderr, "the second call ran warm"
    finally:
        subprocess.run(["pkill", "-f", str(path)], check=False)


def test_the_caller_returns_only_once_the_dbt_child_has_ended(tmp_path, monkeypatch):
    # The child reports its status and then ends; a large run's process takes a moment to end
    # and holds the warehouse's lock until it has (seen at 100k customers): the caller's next
    # program (a Dagster step reading row counts, the next dbt call) must find the file free,
    # as after a plain `dbt`. A server stand-in reports for a "child" that ends 2 s later.
    _, listener = _stand_in_server(tmp_path, monkeypatch)
    ending = subprocess.Popen(["sleep", "2"])

    def report_and_end_later():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(f"pid {ending.pid}\nexit 0 1000\n".encode())
        ending.wait()  # reaped as the server's kernel-reaped children are
        conn.close()

    server = threading.Thread(target=report_and_end_later)
    server.start()
    try:
        done = subprocess.run(
            [WARM, "run"], env={**os.environ, "TMPDIR": str(tmp_path)},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert ending.poll() is not None, "the caller returned while the child was running"
    finally:
        ending.kill()
        server.join(timeout=10)
        listener.close()
