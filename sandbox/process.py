"""Start the sandbox as its own process (as a real platform is its own service) and wait for it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from pipeline.lib.clients.shopify import SHOPIFY_API_VERSION
from pipeline.lib.settings import sandbox_data_dir
from sandbox.context import DEFAULT_API_TOKEN


@contextmanager
def running_sandbox(port: int, sandbox_args: list[str]) -> Iterator[str]:
    """Start the sandbox server and wait until it answers; stop it on the way out.

    Only an answer from the process started here counts: another process already on `port`
    (whose answer would otherwise hand the run someone else's shop) stops the launch."""
    command = [sys.executable, "-m", "sandbox", "serve", "--port", str(port)]
    command += ["--data-dir", str(sandbox_data_dir()), *sandbox_args]
    process = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # the first run generates the store
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the sandbox exited with code {process.returncode}")
            try:
                answer = requests.get(f"{url}/sandbox/health", timeout=1)
            except requests.ConnectionError:
                answer = None
            if answer is not None and answer.ok:
                if _answering_pid(answer) == process.pid:
                    break
                raise SystemExit(
                    f"port {port} is held by another process (another sandbox or checkout?): "
                    "stop it, or pass another port (make dev SANDBOX_PORT=...)"
                )
            if time.monotonic() > deadline:
                raise SystemExit("the sandbox did not start within 10 minutes")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answering_pid(answer: requests.Response) -> int | None:
    try:
        return answer.json().get("pid")
    except ValueError:
        return None


def use_sandbox_for_unconfigured_platforms(url: str) -> list[str]:
    """Point every platform with no settings at the sandbox on `url`; returns their names.

    A platform counts as configured when any of its variables is set, so a half-configured
    platform fails loudly on the missing variable instead of silently talking to the sandbox.
    """
    platforms = {
        "Shopify": {
            "SHOPIFY_API_URL": f"{url}/admin/api/{SHOPIFY_API_VERSION}/graphql.json",
            "SHOPIFY_ACCESS_TOKEN": DEFAULT_API_TOKEN,
        },
        "Klaviyo": {"KLAVIYO_API_URL": url, "KLAVIYO_API_KEY": DEFAULT_API_TOKEN},
        "Mailchimp": {"MAILCHIMP_API_URL": f"{url}/3.0", "MAILCHIMP_API_KEY": DEFAULT_API_TOKEN},
    }
    sandboxed = []
    for platform, settings in platforms.items():
        if not any(os.environ.get(name) for name in settings):
            os.environ.update(settings)
            sandboxed.append(platform)
    return sandboxed
