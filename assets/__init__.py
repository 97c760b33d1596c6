"""Thin Dagster assets and checks; the work is done by pipelines.sync and pipelines.audit."""
