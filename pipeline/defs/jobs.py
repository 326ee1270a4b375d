"""Jobs: the daily refresh of the whole graph (and its first run, which trains the first models),
the one-off import of an order CSV, and the weekly retrain of the customer models."""

import dagster as dg

# Scoring is daily; training is weekly (its own job), never daily. Erasure runs on request only.
# Stages by group, single assets by key. `key_prefixes` (a whole key here) resolves to nothing
# when a Definitions lacks the asset, so a test's Definitions holding only some stages still
# resolves the jobs; the asset graph snapshot test pins what each job selects in the product.
SCORING = dg.AssetSelection.key_prefixes(["ml", "customer_scores"])
# The labels (what each customer did next) are training data only: training builds them right
# before it trains, so a daily run spends no dbt process on them.
LABELS = dg.AssetSelection.key_prefixes(["marts", "customer_labels"])
TRAINING = LABELS | dg.AssetSelection.key_prefixes(["ml", "model_runs"])
CSV_IMPORT = dg.AssetSelection.key_prefixes(["files", "orders"])
ERASURE = dg.AssetSelection.key_prefixes(["activation", "erasures"])
NOT_DAILY = CSV_IMPORT | ERASURE
DAILY = (dg.AssetSelection.groups("ingest", "transform", "activation") | SCORING) - (
    NOT_DAILY | LABELS
)

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
    selection=CSV_IMPORT,
    executor_def=dg.in_process_executor,
    description="Import an order-history CSV export into raw_files.orders (path in run config).",
)

weekly_retrain = dg.define_asset_job(
    "weekly_retrain",
    selection=TRAINING | SCORING,
    executor_def=dg.in_process_executor,
    description="Rebuild the labels, retrain, evaluate and register the customer models, then "
    "rescore everyone with the champions (horizons, as-of date, hyper-parameters and seeds "
    "in run config).",
)
