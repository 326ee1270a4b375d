"""The Dagster UI as a person reads it, in a real browser (Debian's Chromium driven by
Playwright): the asset graph, the segment sizes, the model run's metric tables, a run, and a mart's
freshness policy as the daemon evaluated it.

The instance is the one `make demo` writes (the session's small demo shop, as its first demo left
it), served by `dagster-webserver` on a free port of 127.0.0.1 with `dagster-daemon` beside it
(freshness, sensors), as `make dev` does.
Screenshots go to `artefacts/screenshots/` (gitignored).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from pipeline.lib.settings import PROJECT_ROOT
from tests.demo_helpers import demo_environment, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(1800),
    pytest.mark.xdist_group("demo_shop"),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]  # fmt: skip
SCREENSHOTS = PROJECT_ROOT / "artefacts" / "screenshots"


@pytest.fixture(scope="module")
def webserver(demo_shop):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    _, root, _, _ = demo_shop  # the instance as the first demo left it
    env = demo_environment(root)
    retrain = [sys.executable, "-m", "tests.ui.retrain_small_shop"]
    done = subprocess.run(retrain, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    port = free_port()
    webserver_bin = Path(sys.executable).parent / "dagster-webserver"
    command = [str(webserver_bin), "-h", "127.0.0.1", "-p", str(port),
               "-w", str(PROJECT_ROOT / "workspace.yaml")]  # fmt: skip
    # The daemon evaluates freshness policies (and runs sensors), as under `make dev`.
    daemon_command = [str(Path(sys.executable).parent / "dagster-daemon"), "run",
                      "-w", str(PROJECT_ROOT / "workspace.yaml")]  # fmt: skip
    quiet = {"cwd": PROJECT_ROOT, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    server = subprocess.Popen(command, env=env, **quiet)
    daemon = subprocess.Popen(daemon_command, env=env | {"FRESHNESS_DAEMON_INTERVAL_SECONDS": "5"},
                              **quiet)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, server)
        yield url
    finally:
        for process in (server, daemon):
            process.terminate()
            process.wait(timeout=60)


@pytest.fixture(scope="module")
def page(webserver):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        _dismiss_the_welcome_dialog(page, webserver)
        yield page
        browser.close()


def _wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert server.poll() is None, "dagster-webserver exited"
        try:
            # The answer must come from our server: its own instance reports our code location.
            answer = requests.get(f"{url}/server_info", timeout=2)
            if answer.ok and "dagster_webserver_version" in answer.text:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise AssertionError("dagster-webserver did not answer within 180 s")


def _dismiss_the_welcome_dialog(page, url: str) -> None:
    """A fresh browser gets Dagster's "join the community" dialog on its first page: close it
    once, as a person would (the browser remembers it, so later pages open without it)."""
    page.goto(url)
    with contextlib.suppress(PlaywrightTimeout):
        page.get_by_role("button", name="Skip").click(timeout=8_000)


def _open(page, url: str, ready_text: str) -> None:
    page.goto(url)
    _wait_for_text(page, ready_text, where=url)
    # Parts of a page (an asset node's latest event) fill in after it: shoot them filled in.
    with contextlib.suppress(PlaywrightTimeout):
        page.get_by_text("Loading...").first.wait_for(state="hidden", timeout=15_000)
    skip = page.get_by_role("button", name="Skip")
    assert not skip.is_visible(), f"{url} opened with the welcome dialog over it"


def _wait_for_text(scope, text: str, where: str, exact: bool = False) -> None:
    _wait_to_see(scope.get_by_text(text, exact=exact).first, f"{where} never showed {text!r}")


def _wait_to_see(locator, missing: str) -> None:
    """Waits (the page's default timeout) for `locator`; fails saying what was `missing`."""
    try:
        locator.wait_for()
    except PlaywrightTimeout:
        raise AssertionError(missing) from None


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_asset_graph_shows_the_ml_and_activation_stages(page, webserver):
    groups = f"{webserver}/locations/pipeline.definitions/asset-groups"
    _open(page, f"{groups}/ml", "customer_scores")
    assert page.get_by_text("model_runs", exact=True).count() > 0
    _shot(page, "01-asset-graph-ml")
    _open(page, f"{groups}/activation", "daily_report")
    for name in ("klaviyo_sync", "mailchimp_sync"):
        assert page.get_by_text(name, exact=True).count() > 0, name
    _shot(page, "02-asset-graph-activation")


def test_the_segments_asset_shows_sizes_movement_and_a_plot(page, webserver):
    _open(page, f"{webserver}/assets/reports/segment_sizes", "marketable")
    _shot(page, "03-segment-sizes")
    table = page.locator("table", has=page.locator("th", has_text="marketable")).first
    _wait_to_see(table, "reports/segment_sizes shows no table with a 'marketable' column")
    headers = table.locator("th").all_inner_texts()
    assert headers[:8] == ["segment", "members", "holdout", "entered", "exited", "change",
                           "change_pct", "marketable"]  # fmt: skip
    rows = table.locator("tbody tr").all_inner_texts()
    assert len(rows) >= 5 and any("first run" in row or "+" in row for row in rows)
    page.get_by_text("[Show Markdown]").first.click()
    plot = page.locator('img[src^="data:image/png"]').first
    plot.wait_for()
    assert plot.evaluate("image => image.naturalWidth") > 100
    page.wait_for_timeout(1_000)  # the dialog fades in: shoot it once opaque
    _shot(page, "04-segment-sizes-plot")


def test_the_model_run_shows_a_metrics_table_per_task(page, webserver):
    # Whichever tasks trained on this short history show a table; every task shows its decision.
    _open(page, f"{webserver}/assets/ml/model_runs", "model (this run)")
    table = page.locator("table", has=page.locator("td", has_text="model (this run)")).first
    _wait_to_see(table, "ml/model_runs shows no metrics table with a 'model (this run)' row")
    table.scroll_into_view_if_needed()
    _shot(page, "05-model-runs")
    assert "log_loss" in table.locator("th").all_inner_texts()
    contenders = table.locator("tbody tr td:first-child").all_inner_texts()
    assert "model (this run)" in contenders and any(c.startswith("baseline") for c in contenders)
    assert page.get_by_text("churn_decision").count() > 0
    assert page.get_by_text("open_report").count() > 0


def test_a_run_shows_its_steps_succeeded(page, webserver):
    _open(page, f"{webserver}/runs", "weekly_retrain")
    page.locator('a[href^="/runs/"]').first.click()  # the latest run: the retrain
    _wait_for_text(page, "Run of", where="the latest run's page")
    _wait_for_text(page, "Success", where="the latest run's page", exact=True)
    # The step panel counts from the run's logs, which load after the page: until then it
    # reads "Succeeded (0)" and every step "Not executed".
    succeeded = page.get_by_text(re.compile(r"^Succeeded \([1-9]\d*\)$"))
    _wait_to_see(succeeded.first, "the latest run's page never counted a succeeded step")
    _shot(page, "06-run")
    assert page.get_by_text("weekly_retrain").count() > 0
    assert page.get_by_text("Errored (0)").count() == 1
    # Once every step ran, the panel has no "Not executed" section at all.
    assert page.get_by_text(re.compile(r"^Not executed \(")).count() == 0


FRESHNESS_QUERY = """query ($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
  ... on AssetNode { freshnessStatusInfo { freshnessStatus } } } }"""


def _freshness_status(url: str, path: list[str]) -> str | None:
    """The freshness status the UI shows for an asset, from the webserver's GraphQL API."""
    query = {"query": FRESHNESS_QUERY, "variables": {"key": {"path": path}}}
    answer = requests.post(f"{url}/graphql", json=query, timeout=10)
    answer.raise_for_status()
    info = answer.json()["data"]["assetNodeOrError"].get("freshnessStatusInfo")
    return info["freshnessStatus"] if info else None


def _wait_for_freshness_evaluation(url: str, path: list[str], within_seconds: int = 180) -> str:
    # The daemon evaluates every few seconds once it has loaded the code location: poll for its
    # first verdict on this asset (UNKNOWN means not evaluated yet) rather than sleeping.
    deadline = time.monotonic() + within_seconds
    status = _freshness_status(url, path)
    while status in (None, "UNKNOWN") and time.monotonic() < deadline:
        time.sleep(2)
        status = _freshness_status(url, path)
    return status


def test_a_mart_shows_its_freshness_policy_passing(page, webserver):
    status = _wait_for_freshness_evaluation(webserver, ["marts", "customers"])
    assert status == "HEALTHY", f"the daemon's freshness verdict for marts/customers: {status}"
    _open(page, f"{webserver}/assets/marts/customers", "Freshness policy")
    # The sidebar section headed "Freshness policy": its verdict tag and last materialization.
    section = page.locator(
        "xpath=//*[.//text()[normalize-space()='Freshness policy']"
        " and .//text()[starts-with(normalize-space(), 'Last materialized')]]"
    ).last
    _wait_for_text(section, "Passing", where="the Freshness policy section", exact=True)
    section.scroll_into_view_if_needed()
    _shot(page, "07-freshness")
    shown = section.inner_text()
    assert "Not evaluated" not in shown, shown
    assert "Passing" in shown and "Last materialized" in shown, shown
    assert "Fails if more than" in shown, shown  # the policy itself, beside its verdict
