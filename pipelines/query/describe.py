"""`rc-archive sql --describe VIEW`: a view's columns, types and descriptions.

The descriptions are written once, in catalog/column_docs.py, and stored by the build as DuckDB
comments; this reads them back from the catalog (falling back to the docs for an older one).
"""

from __future__ import annotations

import os

from pipelines.catalog.column_docs import COLUMN_DOCS
from pipelines.catalog.connection import connect
from pipelines.catalog.views import PUBLIC_VIEWS
from pipelines.query.formatting import render
from pipelines.query.queries import QueryResult
from pipelines.settings import Settings


class UnknownView(ValueError):
    """`--describe` named a view the catalog does not have."""


def describe_view(conn, view: str) -> QueryResult:
    """(column, type, description) of a public view of the catalog open on `conn`, the
    description as the build wrote it (falling back to COLUMN_DOCS for an older catalog)."""
    if view not in PUBLIC_VIEWS:
        raise UnknownView(f"unknown view {view!r}; views: {', '.join(PUBLIC_VIEWS)}")
    comments = dict(
        conn.execute(
            "SELECT column_name, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main' "
            "AND table_name = $view",
            {"view": view},
        ).fetchall()
    )
    docs = COLUMN_DOCS.get(view, {})
    rows = [
        (name, kind, comments.get(name) or docs.get(name))
        for name, kind, *_ in conn.execute(f'DESCRIBE "{view}"').fetchall()
    ]
    return QueryResult(["column", "type", "description"], rows)


def describe_command(
    audit_db: str | os.PathLike[str] | None,
    view: str,
    fmt: str = "table",
    settings: Settings | None = None,
) -> str:
    """`rc-archive sql --describe VIEW`: the view's columns, types and descriptions (the
    catalog opened with `settings`; None: the defaults, see `sql.sql_command`)."""
    if view not in PUBLIC_VIEWS:
        raise UnknownView(f"unknown view {view!r}; views: {', '.join(PUBLIC_VIEWS)}")
    conn = connect(audit_db, settings or Settings(), read_only=True)
    try:
        result = describe_view(conn, view)
    finally:
        conn.close()
    # Descriptions are prose: the table shows them whole (csv and json never cut).
    return render(result, fmt, max_width=None)
