"""`make erase REQUEST=path`: erase the people a request file names (GDPR / CCPA).

The file holds one email / customer_id per line, a CSV with `email` and/or `customer_id`
columns, or a Shopify `customers/redact` JSON body. Runs the `erasure` job once, recorded in the
Dagster instance like any other run, and prints counts (never the identifiers) and the platforms
used. Platforms are those configured in the environment or `.env`; one without settings is left
out (and said so), never replaced by another service. Only `--sandbox` (make erase SANDBOX=1)
erases in a local sandbox shop instead, started here as `make demo` does.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import nullcontext
from pathlib import Path

import dagster as dg

from pipeline.cli.run_job import run_job_once
from pipeline.lib.platforms import load_env_file
from sandbox.process import DEFAULT_PLATFORMS, running_sandbox, use_sandbox_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path, help="the erasure request file")
    parser.add_argument(
        "--sandbox", action="store_true", help="erase in a local sandbox shop, not the real one"
    )
    parser.add_argument("--port", type=int, default=8787, help="the sandbox's port, if --sandbox")
    args, sandbox_args = parser.parse_known_args(argv)
    if sandbox_args and not args.sandbox:
        parser.error(f"unknown arguments {' '.join(sandbox_args)} (sandbox flags need --sandbox)")
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    load_env_file()
    with running_sandbox(args.port, sandbox_args) if args.sandbox else nullcontext() as url:
        if url is not None:
            use_sandbox_for(url, list(DEFAULT_PLATFORMS))
        return _run(args.path)


def _run(path: Path) -> int:
    from pipeline.definitions import defs  # after the environment names the platforms

    config = {"request_path": str(path.resolve())}
    counts = run_job_once(defs, "erasure", "activation__erasures", config, "erasure")
    if counts is None:
        return 1
    print(
        f"erased {counts['requests']} request(s) ({counts['repeated_requests']} seen before) "
        f"in the warehouse and platforms: {counts['platforms']}; {counts['identities_found']} "
        f"accounts, {counts['rows_deleted']} rows deleted from {counts['tables_with_deletions']} "
        f"tables, {counts['klaviyo_deletion_requests']} Klaviyo deletion request(s) filed, "
        f"{counts['mailchimp_members_deleted']} Mailchimp member(s) deleted"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
