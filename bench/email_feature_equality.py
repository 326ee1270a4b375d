"""Email features from Mailchimp equal those from Klaviyo, on the same simulated shop.

    python -m bench.email_feature_equality [--customers 10000] [--data-dir data/bench]

The sandbox serves one simulated behaviour through both emulators. This ingests the shop's whole
history from Shopify, Klaviyo and Mailchimp into one raw warehouse, copies it twice (one copy
without the Mailchimp rows, one without the Klaviyo rows), builds `customer_features` in each
with dbt, and compares the email feature columns row by row (customer x as-of date). It prints
the number of customers and rows compared and the mismatches per column.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.lib.clients.http import ApiSession
from pipeline.lib.clients.klaviyo import KlaviyoClient
from pipeline.lib.clients.mailchimp import MailchimpClient
from pipeline.lib.clients.shopify import SHOPIFY_API_VERSION, ShopifyClient
from pipeline.lib.ingest.raw_load import load_records
from pipeline.lib.ingest.raw_records import RAW_TABLES
from pipeline.lib.ingest.warehouse import connect
from pipeline.lib.settings import PROJECT_ROOT
from sandbox.context import DEFAULT_API_TOKEN
from sandbox.server import build_app, open_sandbox
from sandbox.shop.simulator import StoreSpec
from sandbox.threaded_server import ThreadedServer

DBT_DIR = PROJECT_ROOT / "dbt_project"
EMAIL_FEATURES = [
    *(f"{kind}_{window}d" for window in (30, 90) for kind in (
        "emails_received", "emails_opened", "emails_clicked", "open_rate", "click_rate"
    )),
    "days_since_last_open",
    "days_since_last_click",
    "preferred_open_hour",
    "email_consent",
]  # fmt: skip
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ingest_all_platforms(spec: StoreSpec, data_dir: Path, warehouse: Path) -> None:
    """The shop's whole history from all three emulators into the raw tables of `warehouse`."""
    ctx = open_sandbox(spec, data_dir, rate_limit_scale=1000)
    end = ctx.view.now.replace(tzinfo=UTC)
    with ThreadedServer(build_app(ctx, bulk_dir=data_dir / "bulk")) as server:
        shopify = ShopifyClient(
            f"{server.url}/admin/api/{SHOPIFY_API_VERSION}/graphql.json",
            DEFAULT_API_TOKEN,
            ApiSession("Shopify", "SHOPIFY_ACCESS_TOKEN"),
        )
        klaviyo = KlaviyoClient(
            server.url, DEFAULT_API_TOKEN, ApiSession("Klaviyo", "KLAVIYO_API_KEY")
        )
        mailchimp = MailchimpClient(
            f"{server.url}/3.0", DEFAULT_API_TOKEN, ApiSession("Mailchimp", "MAILCHIMP_API_KEY")
        )
        list_id = mailchimp.find_audience()["id"]
        fetches = {
            ("shopify", table): (
                lambda t=table: shopify.fetch_updated_between(t, EPOCH, end, bulk=True)
            )
            for table in ("customers", "orders", "products", "abandoned_checkouts")
        }
        fetches |= {
            ("klaviyo", "profiles"): lambda: klaviyo.fetch_profiles_updated_between(EPOCH, end),
            ("klaviyo", "events"): lambda: klaviyo.fetch_events_between(EPOCH, end),
            ("klaviyo", "metrics"): klaviyo.fetch_metrics,
            ("klaviyo", "lists"): klaviyo.fetch_lists,
            ("mailchimp", "members"): lambda: mailchimp.fetch_members_changed_between(
                list_id, EPOCH, end
            ),
            ("mailchimp", "campaigns"): lambda: mailchimp.fetch_campaigns_sent_between(
                list_id, EPOCH, end
            ),
            ("mailchimp", "email_activity"): lambda: mailchimp.fetch_email_activity_between(
                list_id, EPOCH, end
            ),
        }
        with connect(warehouse) as con:
            for key, fetch in fetches.items():
                load_records(con, RAW_TABLES[key], fetch(), "email-feature-equality")
    ctx.state.close()


def build_features_without(raw: Path, root: Path) -> tuple[Path, Path]:
    """Two copies of `raw`, one without Mailchimp's rows and one without Klaviyo's, each built
    up to `customer_features`. Both builds use one warehouse path and one target folder in
    turn, so the second reuses the first's parse (dbt re-parses whenever the profile's
    warehouse path changes, which costs more than the run itself on a small shop)."""
    work = root / "build"
    work.mkdir(parents=True, exist_ok=True)
    warehouse = work / "warehouse.duckdb"
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse), "DO_NOT_TRACK": "1"}
    command = [
        str(Path(sys.executable).parent / "dbt"), "run",
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--select", "+customer_features",
    ]  # fmt: skip
    built = []
    for side, dropped in (("klaviyo", "mailchimp"), ("mailchimp", "klaviyo")):
        shutil.copyfile(raw, warehouse)
        with duckdb.connect(str(warehouse)) as con:
            tables = con.execute(
                "select table_name from duckdb_tables() where schema_name = ?", [f"raw_{dropped}"]
            ).fetchall()
            for (table,) in tables:
                con.execute(f"delete from raw_{dropped}.{table}")
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"dbt run failed for the {side} side:\n{done.stdout[-3000:]}")
        built.append(warehouse.rename(root / f"{side}.duckdb"))
    return built[0], built[1]


def compare_email_features(klaviyo: Path, mailchimp: Path) -> dict[str, int]:
    """Customers and rows compared, and mismatches per feature column over the rows both sides
    have (floats rounded to 9 places: DuckDB's parallel sums may differ in the last bits).

    A customer with no usable email is named by their smallest platform identity, and Klaviyo
    adds identities (profiles linked through "Placed Order" events) that Mailchimp does not, so
    such a customer's id can differ between the sides; those rows are counted apart, with how
    many of them have any email activity (none should: email needs an address)."""

    def value(side: str, column: str) -> str:
        return (
            f"round({side}.{column}, 9)"
            if "rate" in column or "days" in column
            else (f"{side}.{column}")
        )

    both = "k.customer_id is not null and m.customer_id is not null"
    mismatches = ", ".join(
        f"count(*) filter (where {both} and {value('k', c)} is distinct from {value('m', c)})"
        f" as {c}"
        for c in EMAIL_FEATURES
    )
    activity = "coalesce(k.emails_received_90d, m.emails_received_90d, 0) > 0"
    with duckdb.connect() as con:
        con.execute(f"attach '{klaviyo}' as k_db (read_only)")
        con.execute(f"attach '{mailchimp}' as m_db (read_only)")
        (row,) = con.execute(
            f"""
            select
                count(distinct coalesce(k.customer_id, m.customer_id)) as customers,
                count(*) as rows,
                count(*) filter (where not ({both})) as rows_on_one_side_only,
                count(*) filter (where not ({both}) and {activity})
                    as one_sided_rows_with_email_activity,
                count(*) filter (where {activity}) as rows_with_email_activity,
                {mismatches}
            from k_db.marts.customer_features as k
            full join m_db.marts.customer_features as m
                on k.customer_id = m.customer_id and k.as_of_date = m.as_of_date
            """
        ).fetchall()
        names = [
            "customers",
            "rows",
            "rows_on_one_side_only",
            "one_sided_rows_with_email_activity",
            "rows_with_email_activity",
        ]
        return dict(zip([*names, *EMAIL_FEATURES], row, strict=True))


def email_feature_equality(spec: StoreSpec, root: Path) -> dict[str, int]:
    """Ingest, build both sides and compare; everything under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    raw = root / "raw.duckdb"
    raw.unlink(missing_ok=True)
    ingest_all_platforms(spec, root / "sandbox", raw)
    return compare_email_features(*build_features_without(raw, root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=StoreSpec().customers)
    parser.add_argument("--data-dir", type=Path, default=Path("data/bench/email-features"))
    args = parser.parse_args(argv)
    result = email_feature_equality(StoreSpec(customers=args.customers), args.data_dir)
    mismatched = {k: v for k, v in result.items() if k in EMAIL_FEATURES and v}
    print(f"customers: {result['customers']}")
    print(f"customer x as-of rows compared: {result['rows']}")
    print(f"rows with email activity (90 days): {result['rows_with_email_activity']}")
    print(
        f"rows only one side has (customers without a usable email): "
        f"{result['rows_on_one_side_only']}, "
        f"of which with email activity: {result['one_sided_rows_with_email_activity']}"
    )
    print(f"mismatched rows per email feature: {mismatched or 'none'}")
    return 0 if not mismatched and not result["one_sided_rows_with_email_activity"] else 1


if __name__ == "__main__":
    sys.exit(main())
