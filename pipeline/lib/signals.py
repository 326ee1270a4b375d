"""Signal dispositions a Foresight process must not keep from whoever started it."""

from __future__ import annotations

import signal


def stop_ignoring_interrupts() -> None:
    """Let SIGINT and SIGTERM act again in a process started with them ignored.

    A command a shell starts in the background without job control (`cmd &` in a script, some
    schedulers and CI runners) inherits SIGINT ignored. Each Dagster run then hands SIGTERM the
    SIGINT handler it found, so SIGTERM is ignored too, in this process and every process it
    starts after: the `tail` processes that copy a step's output to its compute log outlive
    their `terminate()`, a run ends only after waiting 30 s for each, and they keep running.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
