"""The server's side of warm dbt (see the package): dbt imported once, a forked child per call."""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import resource
import signal
import socket
import struct
import sys
import threading
import traceback
from contextlib import suppress
from pathlib import Path

IDLE_SECONDS = 300
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
