"""A process started with SIGINT ignored (in the background of a script, by a scheduler) can
still stop the processes it starts after a Dagster run, once it stops ignoring interrupts."""

from __future__ import annotations

import signal
import subprocess
import sys

# A Dagster run on the main thread, then a child started after it asked to terminate.
SCRIPT = """
import subprocess, sys
import dagster as dg
from pipeline.lib.signals import stop_ignoring_interrupts

if sys.argv[1] == "restored":
    stop_ignoring_interrupts()

@dg.asset
def one() -> int:
    return 1

assert dg.materialize([one]).success
child = subprocess.Popen(["sleep", "60"])
child.terminate()
try:
    child.wait(timeout=10)
    print("terminated")
except subprocess.TimeoutExpired:
    child.kill()
    print("ignored SIGTERM")
"""


def _started_with_sigint_ignored(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_after_a_run_sigterm_is_ignored_unless_interrupts_are_restored():
    assert _started_with_sigint_ignored("as started") == "ignored SIGTERM"
    assert _started_with_sigint_ignored("restored") == "terminated"
