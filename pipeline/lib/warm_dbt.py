"""dbt without its start-up cost: a resident process that has imported dbt forks a child per call.

Every dbt call is a new process, and before its first model dbt spends about two seconds
importing itself (it builds serialisers for hundreds of classes at import). A pipeline run
calls dbt three or four times, so at a small shop that start-up is most of what dbt costs.
`foresight-dbt` takes the place of the `dbt` executable: it hands its arguments, environment,
working directory and standard streams to the resident server, which forks a child that
already holds dbt's imports and runs the command exactly as `dbt` would, writing straight to
the caller's streams. The caller's exit status is the command's.

- The server starts on the first call (that call waits for its imports, as `dbt` would) and
  exits after `IDLE_SECONDS` without a call. Its socket is keyed by the Python environment,
  the dbt and DuckDB versions and this file, so an upgrade never runs old code.
- A child dies with its caller: killed, the caller closes the connection and the child kills
  itself; SIGINT and SIGTERM sent to the caller are passed on (dbt stops as it would).
- `FORESIGHT_WARM_DBT=0`, or a server that cannot start, runs the plain `dbt` instead.
- The child is not the caller's child, so the caller's resource usage leaves it out: with
  `FORESIGHT_DBT_PEAK_LOG` set, the caller appends the child's peak resident memory (KiB, a
  line per call) to that file (the benchmarks add it to what they measure).

Only the standard library is imported on the caller's side, so the caller starts in
milliseconds.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
import resource
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from contextlib import suppress
from importlib import metadata
from pathlib import Path

IDLE_SECONDS = 300
START_TIMEOUT_SECONDS = 30
# dbt's modules a build, test or parse loads, imported once by the server.
PRELOADED = (
    "dbt.cli.main",
    "dbt.task.build",
    "dbt.parser.manifest",
    "dbt.adapters.duckdb",
    "dbt.adapters.duckdb.impl",
    "dbt.adapters.duckdb.environments.local",
    "dbt_common.clients.agate_helper",
    "babel.dates",
    "google.protobuf.descriptor_pb2",
    "multiprocessing.dummy",
)
# Classes whose JSON schema dbt builds on each call to validate the project and profile (half a
# second); built once by the server, the children find them cached.
VALIDATED = (
    "dbt.contracts.project.Project",
    "dbt.contracts.project.ProjectFlags",
    "dbt.contracts.project.ProfileConfig",
    "dbt.contracts.project.PackageConfig",
    "dbt.contracts.project.Configuration",
    "dbt.contracts.selection.SelectorFile",
    "dbt.adapters.duckdb.credentials.DuckDBCredentials",
    "dbt.task.test.TestResultData",
)


def socket_path() -> Path:
    """The server's socket for this Python environment and these versions of dbt and DuckDB,
    in a folder only this user may enter (a caller sends its environment, secrets included)."""
    folder = Path(tempfile.gettempdir()) / f"foresight-dbt-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{folder} is not a folder private to this user")
    versions = [metadata.version(name) for name in ("dbt-core", "dbt-duckdb", "duckdb")]
    key = json.dumps([sys.prefix, versions, Path(__file__).stat().st_mtime_ns])
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
        os.execv(plain_dbt(), [plain_dbt(), *sys.argv[1:]])
    try:
        conn = _connect(socket_path())
    except OSError as error:
        print(f"foresight-dbt: no dbt server ({error}); running dbt directly", file=sys.stderr)
        os.execv(plain_dbt(), [plain_dbt(), *sys.argv[1:]])
    request = json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ)})
    payload = request.encode()
    socket.send_fds(conn, [struct.pack("!I", len(payload)) + payload], [0, 1, 2])
    sys.exit(_await_exit(conn))


def _connect(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
        return conn
    except (FileNotFoundError, ConnectionRefusedError):
        pass
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline.lib.warm_dbt", str(path)],
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


def _await_exit(conn: socket.socket) -> int:
    """Pass SIGINT and SIGTERM on to the child; its exit status (1 when it died without one)."""
    reader = conn.makefile("r")
    child = None

    def forward(signum, _frame):
        if child is not None:
            os.kill(child, signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    for line in reader:
        word, *values = line.split()
        if word == "pid":
            child = int(values[0])
        elif word == "exit":
            _log_peak(int(values[1]))
            return int(values[0])
    print("foresight-dbt: dbt ended without an exit status (killed)", file=sys.stderr)
    return 1


def _log_peak(peak_kib: int) -> None:
    peak_log = os.environ.get("FORESIGHT_DBT_PEAK_LOG")
    if peak_log:
        with open(peak_log, "a") as out:
            out.write(f"{peak_kib}\n")


def serve(path: Path) -> None:
    """Accept calls until idle for `IDLE_SECONDS`; one forked child per call."""
    lock = open(f"{path}.lock", "w")  # noqa: SIM115 - held for the server's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another server holds the socket
    _warm()
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    listener.settimeout(IDLE_SECONDS)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = os.getpid()
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return
            if os.fork() == 0:
                # The child must not hold the lock or the socket past the server.
                listener.close()
                lock.close()
                _run_child(conn)
            conn.close()
    finally:
        if os.getpid() == server:
            path.unlink(missing_ok=True)


def _warm() -> None:
    """Import what every call would and build the schemas it would; what a newer dbt moved or
    renamed is skipped (the children then do that work themselves)."""
    for module in PRELOADED:
        with suppress(ImportError):
            importlib.import_module(module)
    for path in VALIDATED:
        module, name = path.rsplit(".", 1)
        with suppress(ImportError, AttributeError):
            getattr(importlib.import_module(module), name).json_schema()


def _run_child(conn: socket.socket) -> None:
    """Become the caller's dbt process: its streams, directory, environment and arguments.
    Ends the process as dbt's own would (exit handlers run: dbt's semaphores are released)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    code, finished = 1, threading.Event()
    try:
        request, fds = _receive(conn)
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = request["argv"]
        conn.sendall(f"pid {os.getpid()}\n".encode())
        threading.Thread(target=_die_with_caller, args=(conn, finished), daemon=True).start()
        code = _run_dbt(sys.argv[1:])
    except Exception:
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    finished.set()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.sendall(f"exit {code} {peak_kib}\n".encode())
    sys.exit(code)


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
    size = struct.unpack("!I", data[:4])[0]
    while len(data) < 4 + size:
        data += conn.recv(65536)
    return json.loads(data[4 : 4 + size]), fds


def _die_with_caller(conn: socket.socket, finished: threading.Event) -> None:
    """The caller never writes: end of stream before dbt finished means it is gone, and so
    must dbt be."""
    while conn.recv(1):
        pass
    if not finished.is_set():
        os.kill(os.getpid(), signal.SIGKILL)


def _run_dbt(args: list[str]) -> int:
    from dbt.cli.main import cli

    try:
        cli.main(args=args, prog_name="dbt")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
