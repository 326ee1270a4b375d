"""A process started with SIGINT ignored (in the background of a script, by some schedulers)
can stop the processes it starts after a Dagster run once it stops ignoring interrupts."""

from __future__ import annotations

import signal
import subprocess
import sys

# Each line: after a Dagster run on the main thread, does a child started then stop when asked
# to terminate? First as the process was started, then after `stop_ignoring_interrupts`.
SCRIPT = """
import subprocess
import dagster as dg
from pipeline.lib.signals import stop_ignoring_interrupts

@dg.asset
def one() -> int:
    return 1

def run_then_terminate_a_child() -> str:
    assert dg.materialize([one]).success
    child = subprocess.Popen(["sleep", "60"])
    child.terminate()
    try:
        child.wait(timeout=3)
        return "terminated"
    except subprocess.TimeoutExpired:
        child.kill()
        return "ignored SIGTERM"

print(run_then_terminate_a_child())
stop_ignoring_interrupts()
print(run_then_terminate_a_child())
"""


def test_after_a_run_sigterm_is_ignored_until_interrupts_are_restored():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:2] == ["ignored SIGTERM", "terminated"]
