"""Customer models: datasets over as-of snapshots, LightGBM training, baselines, evaluation,
explanations, the model registry, scoring and the per-run report. No Dagster imports here."""
