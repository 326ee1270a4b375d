"""Transform assets: the dbt project, one asset per model, dbt tests as asset checks."""
