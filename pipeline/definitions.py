"""The one Dagster Definitions object of Foresight, gathered from the modules under `defs/`
(importing them reads the project's `.env` first, see `pipeline.defs`)."""

import dagster as dg

from pipeline.defs.activation.erasure import erasure_job, erasures
from pipeline.defs.activation.report import report_assets
from pipeline.defs.activation.sync import sync_assets
from pipeline.defs.ingest.files import files_orders
from pipeline.defs.ingest.klaviyo import klaviyo_assets
from pipeline.defs.ingest.mailchimp import mailchimp_assets
from pipeline.defs.ingest.shopify import shopify_assets
from pipeline.defs.jobs import daily_refresh, first_refresh, import_order_csv, weekly_retrain
from pipeline.defs.ml.checks import score_checks
from pipeline.defs.ml.score import customer_scores
from pipeline.defs.ml.train import model_runs
from pipeline.defs.resources import default_resources
from pipeline.defs.schedules import schedules
from pipeline.defs.sensors import sensors
from pipeline.defs.transform.checks import segment_checks
from pipeline.defs.transform.dbt import dbt_model_assets, dbt_resource

defs = dg.Definitions(
    assets=[
        *shopify_assets,
        *klaviyo_assets,
        *mailchimp_assets,
        files_orders,
        *dbt_model_assets,
        model_runs,
        customer_scores,
        *sync_assets,
        *report_assets,
        erasures,
    ],
    asset_checks=[*score_checks, *segment_checks],
    jobs=[daily_refresh, first_refresh, import_order_csv, weekly_retrain, erasure_job],
    schedules=schedules,
    sensors=sensors,
    resources={**default_resources(), "dbt": dbt_resource()},
)
