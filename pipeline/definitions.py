"""The one Dagster Definitions object of Foresight, gathered from the modules under `defs/`.

Stages register here as they land (ingest, transform, ml, activation); `make dev` and the demo
load this module.
"""

import dagster as dg

defs = dg.Definitions()
