"""`make demo` as the tests run it: a subprocess whose warehouse, Dagster instance, artefacts and
sandbox data all live under one folder, with the sandbox on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from pipeline.lib.settings import PROJECT_ROOT

# Long enough that a retrain with short horizons has a task to show metrics for.
DEMO_CUSTOMERS, DEMO_DAYS = 300, 180
DEMO_START = date(2024, 1, 1)
DEMO_LAST_DAY = DEMO_START + timedelta(days=DEMO_DAYS - 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_environment(root: Path) -> dict[str, str]:
    """The process environment of a demo kept under `root`: no platform settings or alert
    targets from the caller, the project's dagster.yaml storing under `root / "instance"`."""
    left_out = ("SHOPIFY_", "KLAVIYO_", "MAILCHIMP_", "FORESIGHT_ALERT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(left_out)}
    env |= {
        "DAGSTER_HOME": str(PROJECT_ROOT),
        "FORESIGHT_DAGSTER_STORAGE": str(root / "instance"),
        "WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "FORESIGHT_ARTEFACTS_DIR": str(root / "artefacts"),
        "FORESIGHT_HISTORY_START": DEMO_START.isoformat(),
        "DO_NOT_TRACK": "1",
    }
    (root / "instance").mkdir(parents=True, exist_ok=True)
    return env


def run_demo(root: Path, port: int, *extra: str) -> str:
    """`python -m pipeline.cli.demo` exactly as the Makefile runs it; its printed summary."""
    command = [sys.executable, "-m", "pipeline.cli.demo", "--port", str(port),
               "--customers", str(DEMO_CUSTOMERS), "--days", str(DEMO_DAYS),
               "--data-dir", str(root / "sandbox"), *extra]  # fmt: skip
    done = subprocess.run(
        command, env=demo_environment(root), capture_output=True, text=True, timeout=1500
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    return done.stdout
