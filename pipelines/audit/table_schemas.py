"""The Arrow schema of each archived table, as the audit catalog needs it.

The schemas live in `schemas/<table>.py` (one source of truth). The catalog only needs them for
one thing: a table with no committed file yet must still give a view with the right columns and
types, so that saved auditor queries never fail on a fresh archive.
"""

from __future__ import annotations

import importlib

import pyarrow as pa

TABLES = ("contents", "identities", "agents", "quarantine", "attachments")


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of `table`, from `schemas.<table>.ARROW_SCHEMA`."""
    if table not in TABLES:
        raise ValueError(f"unknown archive table {table!r}; known tables: {', '.join(TABLES)}")
    return importlib.import_module(f"schemas.{table}").ARROW_SCHEMA
