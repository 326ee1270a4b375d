"""`make demo`: start the sandbox shop, run what the pipeline has so far against it, summarise.

Extra arguments are passed to `python -m pipeline.sandbox serve` (e.g. `--customers 50000
--faults 429=0.1`). The sandbox runs as a separate process on 127.0.0.1, exactly as a real
platform would be a separate service, and is stopped at the end whatever happens.
"""

from __future__ import annotations

import argparse
import sys
import time

import requests

from pipeline.definitions import defs
from pipeline.lib.settings import warehouse_path
from pipeline.sandbox.context import DEFAULT_API_TOKEN
from pipeline.sandbox.process import running_sandbox

SHOPIFY_API_VERSION = "2026-10"
KLAVIYO_REVISION = "2026-07-15"


def probe_platforms(url: str) -> dict[str, str]:
    """One real request to each emulated platform, as the pipeline's clients will make them."""
    shopify = requests.post(
        f"{url}/admin/api/{SHOPIFY_API_VERSION}/graphql.json",
        json={"query": "{ shop { name } customers(first: 1) { edges { node { id } } } }"},
        headers={"X-Shopify-Access-Token": DEFAULT_API_TOKEN},
        timeout=30,
    )
    klaviyo = requests.get(
        f"{url}/api/metrics",
        headers={
            "Authorization": f"Klaviyo-API-Key {DEFAULT_API_TOKEN}",
            "revision": KLAVIYO_REVISION,
            "accept": "application/vnd.api+json",
        },
        timeout=30,
    )
    shop = shopify.json().get("data", {}).get("shop", {}).get("name", "?")
    metrics = len(klaviyo.json().get("data", []))
    return {
        "Shopify GraphQL Admin API": f"HTTP {shopify.status_code}, shop '{shop}'",
        "Klaviyo REST API": f"HTTP {klaviyo.status_code}, {metrics} metrics",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8787)
    args, sandbox_args = parser.parse_known_args(argv)
    began = time.perf_counter()
    with running_sandbox(args.port, sandbox_args) as url:
        info = requests.get(f"{url}/sandbox/info", timeout=30).json()
        platforms = probe_platforms(url)
        state = requests.get(f"{url}/sandbox/state", timeout=30).json()
    jobs = [job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]
    store = info["store"]
    print("\nForesight demo")
    print(
        f"  sandbox shop   {store['customers']} customers, history {store['start']} + "
        f"{store['days']} days, clock at {info['now'][:10]}, seed {store['seed']}"
    )
    for name, outcome in platforms.items():
        print(f"  {name:<26} {outcome}")
    written = ", ".join(
        f"{count} {name.replace('_', ' ')}"
        for name, count in state.items()
        if isinstance(count, int)
    )
    print(f"  platform state {written}")
    print(f"  warehouse      {warehouse_path()}")
    print(f"  pipeline jobs  {', '.join(jobs) or 'none yet: ingestion is the next stage'}")
    print(f"  finished in    {time.perf_counter() - began:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
