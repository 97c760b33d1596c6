"""rc-archive: the Dagster code location and the libraries it runs (API client, archive, audit)."""
