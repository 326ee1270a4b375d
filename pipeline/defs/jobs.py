"""Jobs: the daily refresh of the whole graph, and the one-off import of an order CSV."""

import dagster as dg

# Daily scoring, when the ML stage is in the definitions: a substring selection, so the job
# still resolves before that stage exists. Training is weekly (its own job), never daily.
DAILY_SCORING = dg.AssetSelection.key_substring("ml/customer_scores")

# The in-process executor: every step opens the one DuckDB file in turn, and the multiprocess
# executor would add seconds of start-up per step on a small machine for no parallelism gain.
daily_refresh = dg.define_asset_job(
    "daily_refresh",
    selection=(dg.AssetSelection.groups("ingest", "transform", "activation") | DAILY_SCORING)
    - dg.AssetSelection.assets(["files", "orders"]),
    executor_def=dg.in_process_executor,
    description="Pull what changed in each platform for the partition's day into raw_*, "
    "rebuild and test the dbt models, score (when the ML stage is present), rebuild the "
    "segments and sync them to Klaviyo (and Mailchimp when configured).",
)

import_order_csv = dg.define_asset_job(
    "import_order_csv",
    selection=dg.AssetSelection.assets(["files", "orders"]),
    executor_def=dg.in_process_executor,
    description="Import an order-history CSV export into raw_files.orders (path in run config).",
)
