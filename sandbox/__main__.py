"""Command line of the sandbox store.

    python -m sandbox serve    [store args] [--now DATE] [--port P] [--faults SPEC]
    python -m sandbox truth    --out FILE.parquet [store args] [--now DATE]
    python -m sandbox export-csv --out FILE.csv [store args] [--now DATE]
    python -m sandbox generate [store args]

Store args: --shape NAME --customers N --start DATE --days D --seed S --dirt RATE (--days
defaults to the shape's history length). The store is generated on
first use under --data-dir (default data/sandbox) and reused afterwards; so is the platform state
that clients write, so a second run talks to the same shop.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime
from pathlib import Path

import uvicorn

from sandbox.context import DEFAULT_API_TOKEN
from sandbox.faults import FaultSpec, FaultSpecError
from sandbox.server import SandboxClockError, build_app, open_sandbox, resolve_now
from sandbox.shop.csv_export import write_order_csv
from sandbox.shop.shapes import DEFAULT_SHAPE, SHAPES, shape_named
from sandbox.shop.simulator import StoreSpec, ensure_store
from sandbox.shop.store import StoreView
from sandbox.shop.truth import write_truth
from sandbox.threaded_server import HOST


def _store_args(parser: argparse.ArgumentParser, with_now: bool = True) -> None:
    parser.add_argument(
        "--shape",
        choices=tuple(SHAPES),
        default=DEFAULT_SHAPE,
        help="; ".join(f"{name}: {shape.description}" for name, shape in SHAPES.items()),
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--days", type=int, default=None, help="default: the shape's history")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dirt", type=float, default=0.02, help="share of dirty records")
    parser.add_argument("--data-dir", type=Path, default=Path("data/sandbox"))
    if with_now:
        parser.add_argument(
            "--now",
            type=datetime.fromisoformat,
            default=None,
            help="the sandbox clock (default: start + days)",
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the Shopify and Klaviyo emulators")
    _store_args(serve)
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--faults", default="", help="e.g. 429=0.1,5xx=0.05,drop=0.02")
    serve.add_argument(
        "--rate-limit-scale",
        type=float,
        default=1.0,
        help="multiply the platforms' documented rate limits (1 = faithful)",
    )
    serve.add_argument("--api-key", default=DEFAULT_API_TOKEN, help="the accepted credential")
    truth = commands.add_parser("truth", help="export each customer's true future as Parquet")
    _store_args(truth)
    truth.add_argument("--out", type=Path, required=True)
    export = commands.add_parser("export-csv", help="write the shop's order history as a CSV")
    _store_args(export)
    export.add_argument("--out", type=Path, required=True)
    generate = commands.add_parser("generate", help="generate the store file and report its size")
    _store_args(generate, with_now=False)
    return parser


def _spec(args: argparse.Namespace) -> StoreSpec:
    days = shape_named(args.shape).default_days if args.days is None else args.days
    if args.customers < 1 or days < 1:
        raise ValueError("--customers and --days must be positive")
    return StoreSpec(
        seed=args.seed,
        customers=args.customers,
        start=args.start,
        days=days,
        dirt=args.dirt,
        shape=args.shape,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        spec = _spec(args)
        if args.command == "generate":
            began = time.perf_counter()
            path = ensure_store(spec, args.data_dir / "stores")
            print(f"store {path} ready in {time.perf_counter() - began:.1f}s")
        elif args.command == "truth":
            now = resolve_now(spec, args.now)
            view = StoreView(ensure_store(spec, args.data_dir / "stores"), now)
            rows = write_truth(view, str(args.out))
            print(f"wrote the truth about {rows} customers as of {now:%Y-%m-%d} to {args.out}")
        elif args.command == "export-csv":
            now = resolve_now(spec, args.now)
            view = StoreView(ensure_store(spec, args.data_dir / "stores"), now)
            rows = write_order_csv(view, args.out)
            print(f"wrote {rows} orders placed before {now:%Y-%m-%d} to {args.out}")
        else:
            faults = FaultSpec.parse(args.faults, seed=args.seed)
            ctx = open_sandbox(spec, args.data_dir, args.now, args.rate_limit_scale, args.api_key)
            print(
                f"sandbox shop ({spec.customers} customers, seed {spec.seed}) as of "
                f"{ctx.view.now:%Y-%m-%d} on http://{HOST}:{args.port}",
                flush=True,
            )
            uvicorn.run(
                build_app(ctx, faults, bulk_dir=args.data_dir / "bulk"),
                host=HOST,
                port=args.port,
                log_level="warning",
                access_log=False,
            )
    except (FaultSpecError, SandboxClockError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
