"""`make erase REQUEST=path`: erase the people a request file names (GDPR / CCPA).

The file holds one email / customer_id per line, a CSV with `email` and/or `customer_id`
columns, or a Shopify `customers/redact` JSON body. Runs the `erasure` job once, recorded in the
Dagster instance like any other run, and prints counts (never the identifiers). Without Klaviyo
credentials the deletions go to the sandbox shop (started here, as `make demo` does): Klaviyo's,
and Mailchimp's too unless Mailchimp has settings of its own. With Klaviyo configured and no
Mailchimp settings, the shop has no Mailchimp and nothing is deleted there.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from contextlib import nullcontext
from pathlib import Path

import dagster as dg

from pipeline.cli.run_job import run_job_once
from sandbox.process import running_sandbox, use_sandbox_for_unconfigured_platforms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path, help="the erasure request file")
    parser.add_argument("--port", type=int, default=8787, help="the sandbox's port, if needed")
    args, sandbox_args = parser.parse_known_args(argv)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    configured = os.environ.get("KLAVIYO_API_URL") or os.environ.get("KLAVIYO_API_KEY")
    with nullcontext() if configured else running_sandbox(args.port, sandbox_args) as url:
        if url is not None:
            use_sandbox_for_unconfigured_platforms(url)
        return _run(args.path)


def _run(path: Path) -> int:
    from pipeline.definitions import defs  # after the environment points at the platforms

    config = {"request_path": str(path.resolve())}
    counts = run_job_once(defs, "erasure", "activation__erasures", config, "erasure")
    if counts is None:
        return 1
    print(
        f"erased {counts['requests']} request(s) ({counts['repeated_requests']} seen before): "
        f"{counts['identities_found']} accounts, {counts['rows_deleted']} rows deleted from "
        f"{counts['tables_with_deletions']} tables, {counts['klaviyo_deletion_requests']} "
        f"Klaviyo deletion request(s) filed, {counts['mailchimp_members_deleted']} Mailchimp "
        "member(s) deleted"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
