"""The caller's side of warm dbt (`foresight-dbt`, see the package): the standard library only,
so it starts in milliseconds."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from typing import NoReturn

START_TIMEOUT_SECONDS = 30


def socket_path() -> Path:
    """The server's socket for this Python environment and these versions of dbt and DuckDB,
    in a folder only this user may enter (a caller sends its environment, secrets included)."""
    folder = Path(tempfile.gettempdir()) / f"foresight-dbt-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{folder} is not a folder private to this user")
    versions = [metadata.version(name) for name in ("dbt-core", "dbt-duckdb", "duckdb")]
    code = [path.stat().st_mtime_ns for path in sorted(Path(__file__).parent.glob("*.py"))]
    key = json.dumps([sys.prefix, versions, code])
    return folder / f"{hashlib.sha1(key.encode()).hexdigest()[:12]}.sock"


def plain_dbt() -> str:
    """The `dbt` installed beside this Python (found even when the virtualenv is not on PATH)."""
    return str(Path(sys.executable).parent / "dbt")


def dbt_executable() -> str:
    """What to run as `dbt`: `foresight-dbt` beside this Python when installed, else `dbt`."""
    for name in ("foresight-dbt", "dbt"):
        beside_python = Path(sys.executable).parent / name
        if beside_python.exists():
            return str(beside_python)
    return shutil.which("dbt") or "dbt"


def main() -> None:
    """`foresight-dbt <dbt arguments>`: run dbt through the server, exit with its status."""
    if os.environ.get("FORESIGHT_WARM_DBT") == "0":
        _run_plain()
    request = json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ)})
    payload = request.encode()
    # A server that closes a call before starting dbt (it went idle as the call came) ran
    # nothing: the call is made again, to a new server.
    for _ in range(2):
        try:
            conn = _connect(socket_path())
        except OSError as error:
            _run_plain(f"no dbt server ({error})")
        try:
            socket.send_fds(conn, [struct.pack("!I", len(payload)) + payload], [0, 1, 2])
        except (BrokenPipeError, ConnectionResetError):
            continue  # closed before it read the call
        status = _await_exit(conn)
        if status is not None:
            sys.exit(status)
    _run_plain("the dbt server closed the call before starting dbt")


def _run_plain(why: str = "") -> NoReturn:
    if why:
        print(f"foresight-dbt: {why}; running dbt directly", file=sys.stderr)
    os.execv(plain_dbt(), [plain_dbt(), *sys.argv[1:]])


def _connect(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
        return conn
    except (FileNotFoundError, ConnectionRefusedError):
        pass
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline.lib.warm_dbt.server", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            conn.connect(str(path))
            return conn
        except (FileNotFoundError, ConnectionRefusedError):
            # A server that found another one running exits 0 and that one answers soon.
            if time.monotonic() > deadline or server.poll():
                raise
            time.sleep(0.05)


def _await_exit(conn: socket.socket) -> int | None:
    """Pass SIGINT and SIGTERM on to the child; its exit status (1 when it died without one),
    or None when the server closed the call before the child started."""
    reader = conn.makefile("r")
    child, pending = None, []

    def forward(signum, _frame):
        if child is None:
            pending.append(signum)  # passed on once the child is known
        else:
            os.kill(child, signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    with suppress(ConnectionResetError):
        for line in reader:
            word, *values = line.split()
            if word == "pid":
                child = int(values[0])
                for signum in pending:
                    os.kill(child, signum)
            elif word == "exit":
                _log_peak(int(values[1]))
                _wait_until_gone(child)
                return int(values[0])
    if child is None and not pending:
        return None
    print("foresight-dbt: dbt ended without an exit status (killed)", file=sys.stderr)
    return 1


def _wait_until_gone(pid: int | None, timeout: float = 120) -> None:
    """The child reports its status before its process ends, and DuckDB writes the warehouse's
    last changes and releases the file's lock only as the process ends (seconds for a large
    table): the caller's next program must find the file free, as after a plain `dbt`. (The
    server's children are reaped by the kernel, so a finished child's pid is gone at once.)"""
    deadline = time.monotonic() + timeout
    while pid is not None and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


def _log_peak(peak_kib: int) -> None:
    peak_log = os.environ.get("FORESIGHT_DBT_PEAK_LOG")
    if peak_log:
        with open(peak_log, "a") as out:
            out.write(f"{peak_kib}\n")
