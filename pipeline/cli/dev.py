"""`make dev`: the Dagster UI on 127.0.0.1:3000 with a sandbox shop running beside it.

`--platforms shopify,mailchimp` (make dev PLATFORMS=…) names the platforms the sandbox plays,
default all three; the others are left unconfigured whatever `.env` holds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from pipeline.lib.settings import PROJECT_ROOT, sandbox_data_dir
from pipeline.lib.signals import stop_ignoring_interrupts
from sandbox.process import DEFAULT_PLATFORMS, parse_platforms, running_sandbox, use_sandbox_for


def main(argv: list[str] | None = None) -> int:
    stop_ignoring_interrupts()  # `dagster dev` and its runs inherit what this process ignores
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8787, help="the sandbox's port")
    parser.add_argument(
        "--platforms", type=parse_platforms, default=list(DEFAULT_PLATFORMS), help="e.g. shopify"
    )
    args, sandbox_args = parser.parse_known_args(argv)
    with running_sandbox(args.port, sandbox_args) as url:
        use_sandbox_for(url, args.platforms)  # inherited by `dagster dev` and its runs
        print(f"sandbox on {url}; Dagster UI on http://127.0.0.1:3000 (Ctrl-C stops both)")
        command = ["dagster", "dev", "-h", "127.0.0.1", "-p", "3000", "-m", "pipeline.definitions",
                   "-d", str(PROJECT_ROOT)]  # fmt: skip
        try:
            # `dagster dev` lets a `.env` in its working directory override the environment,
            # which would undo the sandbox's settings: start it where no `.env` lives. The
            # definitions still read the project's `.env`, without overriding what is set.
            return subprocess.call(command, cwd=sandbox_data_dir())
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
