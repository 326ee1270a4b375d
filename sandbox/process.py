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
from pipeline.lib.erasure.keys import SALT_ENV
from pipeline.lib.platforms import PLATFORMS
from pipeline.lib.settings import sandbox_data_dir
from sandbox.context import DEFAULT_API_TOKEN

# The sandbox shop's own erasure salt: public, so fit for simulated people only.
SANDBOX_ERASURE_SALT = "foresight-sandbox-erasure-salt"


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


DEFAULT_PLATFORMS = ("shopify", "klaviyo", "mailchimp")


def parse_platforms(text: str) -> list[str]:
    """'shopify,mailchimp' → the platforms the sandbox plays, in the product's order."""
    chosen = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = chosen - set(PLATFORMS)
    if unknown:
        raise SystemExit(
            f"unknown platform(s) {', '.join(sorted(unknown))}: choose among {', '.join(PLATFORMS)}"
        )
    return [platform for platform in PLATFORMS if platform in chosen]


def use_sandbox_for(url: str, platforms: list[str]) -> None:
    """Point `platforms` at the sandbox on `url` and leave every other platform unconfigured.

    The others are set empty rather than removed, so a `.env` read later (by the definitions)
    cannot fill them in: a demo of Shopify + Mailchimp must not quietly sync to a real Klaviyo.
    Only the demo launchers call this; nothing else ever talks to a sandbox. The sandbox's
    erasure salt replaces the shop's, so a demo never hashes with (or needs) the real secret.
    """
    os.environ[SALT_ENV] = SANDBOX_ERASURE_SALT
    endpoints = {
        "shopify": f"{url}/admin/api/{SHOPIFY_API_VERSION}/graphql.json",
        "klaviyo": url,
        "mailchimp": f"{url}/3.0",
    }
    for platform, settings in PLATFORMS.items():
        played = platform in platforms
        os.environ[settings.url_env] = endpoints[platform] if played else ""
        os.environ[settings.key_env] = DEFAULT_API_TOKEN if played else ""
