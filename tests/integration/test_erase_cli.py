"""`make erase` talks to the platforms the shop configured (environment or `.env`) and to nothing
else: never to a sandbox it started itself, which would record a deletion the real platform
never received."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from tests.defs.ingest_helpers import sandbox

pytestmark = pytest.mark.integration
PLATFORM_PREFIXES = ("SHOPIFY_", "KLAVIYO_", "MAILCHIMP_")


def _erase(tmp_path, settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PLATFORM_PREFIXES)}
    env.pop("DAGSTER_HOME", None)
    (tmp_path / "settings.env").write_text(settings)
    env["FORESIGHT_ENV_FILE"] = str(tmp_path / "settings.env")
    env["WAREHOUSE_PATH"] = str(tmp_path / "warehouse.duckdb")
    request = tmp_path / "request.txt"
    request.write_text("someone@example.com\n")
    command = [sys.executable, "-m", "pipeline.cli.erase", str(request)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_erase_uses_the_klaviyo_settings_in_the_env_file(tmp_path):
    with sandbox(tmp_path / "sandbox") as url:
        done = _erase(tmp_path, f"KLAVIYO_API_URL={url}\nKLAVIYO_API_KEY=sandbox-key\n")
        state = requests.get(f"{url}/sandbox/state", timeout=30).json()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "platforms: klaviyo;" in done.stdout
    assert "1 Klaviyo deletion request(s) filed" in done.stdout
    assert state["deletion_requests"] == 1  # it reached the configured Klaviyo
    assert "someone@example.com" not in done.stdout + done.stderr
