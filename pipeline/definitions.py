"""The one Dagster Definitions object of Foresight, gathered from the modules under `defs/`."""

import dagster as dg

from pipeline.defs.activation.erasure import erasure_job, erasures
from pipeline.defs.ingest.files import files_orders
from pipeline.defs.ingest.klaviyo import klaviyo_assets
from pipeline.defs.ingest.shopify import shopify_assets
from pipeline.defs.jobs import daily_refresh, import_order_csv
from pipeline.defs.resources import default_resources
from pipeline.defs.transform.dbt import dbt_model_assets, dbt_resource

defs = dg.Definitions(
    assets=[*shopify_assets, *klaviyo_assets, files_orders, *dbt_model_assets, erasures],
    jobs=[daily_refresh, import_order_csv, erasure_job],
    resources={**default_resources(), "dbt": dbt_resource()},
)
