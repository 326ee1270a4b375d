"""Progress of a run as it happens: which stage is running and how far it got, every few seconds.

A long first load would otherwise be silent for minutes: Dagster records its planned
materialisations, then each step works. A background thread reads the run's new events from the
instance (by cursor, so each read is small) and prints one line per stage change, plus the count
of planned materialisations while Dagster is still recording them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

_WATCHED = {
    dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}


@contextmanager
def printed_progress(
    instance: dg.DagsterInstance, run_id: str, every_seconds: float = 3.0
) -> Iterator[None]:
    """Print the run's stages while the body runs; stops (and prints the last events) on exit."""
    stop = threading.Event()
    reporter = _ProgressReporter(instance, run_id)
    thread = threading.Thread(target=reporter.follow, args=(stop, every_seconds), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


class _ProgressReporter:
    def __init__(self, instance: dg.DagsterInstance, run_id: str):
        self.instance, self.run_id = instance, run_id
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
        print(f"  [{time.perf_counter() - self.began:6.0f}s] {message}", flush=True)
