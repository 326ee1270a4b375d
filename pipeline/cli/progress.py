"""Progress of a run as it happens: which stage is running and how far it got, every few seconds.

A long first load would otherwise be silent for minutes: Dagster records its planned
materialisations, then each step works. A background thread reads the run's new events from the
instance (by cursor, so each read is small) and prints one line per stage change, plus the count
of planned materialisations while Dagster is still recording them. What else the run writes to
standard output (dagster-dbt repeats dbt's whole log there) can go to a file instead, so the
terminal shows the progress; each step's output is still in the UI, under the step's logs.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TextIO

import dagster as dg

_WATCHED = {
    dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}


@contextmanager
def printed_progress(
    instance: dg.DagsterInstance,
    run_id: str,
    every_seconds: float = 3.0,
    other_output: Path | None = None,
) -> Iterator[None]:
    """Print the run's stages while the body runs; stops (and prints the last events) on exit.
    With `other_output`, the rest of the process's standard output is appended to that file."""
    redirect = _stdout_to(other_output) if other_output else nullcontext(sys.stdout)
    with redirect as terminal:
        stop = threading.Event()
        reporter = _ProgressReporter(instance, run_id, terminal)
        thread = threading.Thread(target=reporter.follow, args=(stop, every_seconds), daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)


@contextmanager
def _stdout_to(path: Path) -> Iterator[TextIO]:
    """Point file descriptor 1 at `path` (so what dbt and Dagster's log capture write lands
    there too); yields a stream to where standard output went before."""
    try:
        stdout_fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured in-process)
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    with os.fdopen(os.dup(stdout_fd), "w") as terminal, open(path, "a") as log:
        saved = os.dup(stdout_fd)
        os.dup2(log.fileno(), stdout_fd)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            os.dup2(saved, stdout_fd)
            os.close(saved)


class _ProgressReporter:
    def __init__(self, instance: dg.DagsterInstance, run_id: str, out: TextIO):
        self.instance, self.run_id, self.out = instance, run_id, out
        self.began = time.perf_counter()
        self.cursor: str | None = None
        self.planned = 0
        self.step_started: dict[str, float] = {}

    def follow(self, stop: threading.Event, every_seconds: float) -> None:
        while not stop.wait(every_seconds):
            self.report_new_events()
        self.report_new_events()

    def report_new_events(self) -> None:
        try:
            connection = self.instance.get_records_for_run(
                self.run_id, cursor=self.cursor, of_type=_WATCHED
            )
        except Exception:  # the run's storage may not exist yet: try again on the next tick
            return
        self.cursor = connection.cursor
        planned_before = self.planned
        for record in connection.records:
            self.report(record.event_log_entry)
        if self.planned > planned_before:
            self.say(f"recorded {self.planned} planned materialisations")

    def report(self, entry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        kind, step = event.event_type, event.step_key
        if kind == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            self.planned += 1
        elif kind == dg.DagsterEventType.STEP_START:
            self.step_started[step] = entry.timestamp
            self.say(f"started {step}")
        else:
            took = entry.timestamp - self.step_started.get(step, entry.timestamp)
            outcome = "done" if kind == dg.DagsterEventType.STEP_SUCCESS else "FAILED"
            self.say(f"{outcome:<7} {step} in {took:.0f}s")

    def say(self, message: str) -> None:
        print(f"  [{time.perf_counter() - self.began:6.0f}s] {message}", file=self.out, flush=True)
