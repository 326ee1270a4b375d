"""`make dev`: the Dagster UI on 127.0.0.1:3000 with a sandbox shop running beside it."""

from __future__ import annotations

import argparse
import subprocess
import sys

from sandbox.process import running_sandbox, use_sandbox_for_unconfigured_platforms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8787, help="the sandbox's port")
    args, sandbox_args = parser.parse_known_args(argv)
    with running_sandbox(args.port, sandbox_args) as url:
        use_sandbox_for_unconfigured_platforms(url)  # inherited by `dagster dev` and its runs
        print(f"sandbox on {url}; Dagster UI on http://127.0.0.1:3000 (Ctrl-C stops both)")
        command = ["dagster", "dev", "-h", "127.0.0.1", "-p", "3000", "-w", "workspace.yaml"]
        try:
            return subprocess.call(command)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
