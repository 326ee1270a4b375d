"""Jobs: the daily refresh of the whole graph (and its first run, which trains the first models),
the one-off import of an order CSV, and the weekly retrain of the customer models."""

import dagster as dg

# Scoring is daily; training is weekly (its own job), never daily. Erasure runs on request only.
# Selected by key text, so a Definitions holding only some stages (tests) still resolves the job.
DAILY_SCORING = dg.AssetSelection.key_substring("ml/customer_scores")
TRAINING = dg.AssetSelection.key_substring("ml/model_runs")
NOT_DAILY = dg.AssetSelection.assets(["files", "orders"]) | dg.AssetSelection.key_substring(
    "activation/erasures"
)
DAILY = (dg.AssetSelection.groups("ingest", "transform", "activation") | DAILY_SCORING) - NOT_DAILY

# The in-process executor: every step opens the one DuckDB file in turn, and the multiprocess
# executor would add seconds of start-up per step on a small machine for no parallelism gain.
daily_refresh = dg.define_asset_job(
    "daily_refresh",
    selection=DAILY,
    executor_def=dg.in_process_executor,
    description="Pull what changed in each platform for the partition's day into raw_*, "
    "rebuild and test the dbt models, score with the champion models, rebuild the "
    "segments and sync them to Klaviyo (and Mailchimp when configured).",
)

# A shop's first run: without a registered model the daily scoring could only use BTYD or rules,
# so the first refresh trains between the features and the scoring and the first sync already
# carries the champions' scores (or the registry says why a baseline scores instead).
first_refresh = dg.define_asset_job(
    "first_refresh",
    selection=DAILY | TRAINING,
    executor_def=dg.in_process_executor,
    description="The daily refresh for a shop with no trained models yet: ingest, dbt, then "
    "train and register the first models before scoring, segments and syncs.",
)

import_order_csv = dg.define_asset_job(
    "import_order_csv",
    selection=dg.AssetSelection.assets(["files", "orders"]),
    executor_def=dg.in_process_executor,
    description="Import an order-history CSV export into raw_files.orders (path in run config).",
)

weekly_retrain = dg.define_asset_job(
    "weekly_retrain",
    selection=dg.AssetSelection.assets(["ml", "model_runs"], ["ml", "customer_scores"]),
    executor_def=dg.in_process_executor,
    description="Retrain, evaluate and register the customer models, then rescore everyone "
    "with the champions (horizons, as-of date, hyper-parameters and seeds in run config).",
)
