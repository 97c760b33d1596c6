"""Thin Dagster assets and checks; the work is done by the library in pipelines/."""
