"""One source's assets, found from the table registry rather than listed by hand."""

from __future__ import annotations

import importlib
import importlib.util

import dagster as dg

from schemas.tables import TABLES


def table_assets() -> list[dg.AssetsDefinition]:
    """Each archived table's asset, in `TABLES` order: by convention the module named after
    the table (`assets/<table>.py`) defines it under the table's name. So a new table's asset
    is its own module and nothing else (docs/internals.md, "Add a per-source table"); tables
    written by another table's asset (flags, quarantine) have no module of their own."""
    found = []
    for name in TABLES:
        if importlib.util.find_spec(f"assets.{name}") is not None:
            found.append(getattr(importlib.import_module(f"assets.{name}"), name))
    return found


SOURCE_ASSETS: list[dg.AssetsDefinition] = table_assets()
