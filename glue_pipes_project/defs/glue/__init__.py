"""Glue jobs run through Dagster Pipes: their assets, the clients they use, and the deploy job."""
