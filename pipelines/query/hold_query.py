"""The messages a `hold place --query` selects: a person's own read-only SQL over the catalog.

Why on the read side: the query is an access-logged read like `rc-archive sql` (its access event
names the SQL and how many rows it returned, or why it was refused); only the ids it returns
go on to governance/holds.py, which finds and holds their files (`selection.held_objects`).
"""

from __future__ import annotations

from typing import Any

from pipelines.catalog.connection import connect
from pipelines.governance.access_trail import AccessTrail
from pipelines.query.access_logged import query_fields, run_logged
from pipelines.query.formatting import check_read_only
from pipelines.query.queries import run_query
from pipelines.settings import Settings


class HoldQueryError(ValueError):
    """The query returns no `id` column, or no message id at all: nothing it names to hold."""


def message_ids_selected_by(
    trail: AccessTrail, audit_db: str, settings: Settings, sql: str
) -> tuple[str, ...]:
    """The distinct, sorted message ids (`messages.id` / `contents.id`) in the `id` column of
    `sql`, run read-only on the catalog at `audit_db` with its access event on `trail`."""
    found: list[str] = []

    def work() -> tuple[str, dict[str, Any]]:
        check_read_only(sql)  # inside: a refused query is logged like any other
        conn = connect(audit_db, settings, read_only=True)
        try:
            result = run_query(conn, sql)
        finally:
            conn.close()
        if "id" not in result.columns:
            raise HoldQueryError(
                f"--query must return an `id` column of message ids; it returned "
                f"{', '.join(result.columns)}"
            )
        column = result.columns.index("id")
        found.extend(sorted({str(row[column]) for row in result.rows if row[column]}))
        return "", {"rows": len(result.rows)}

    details = {"arguments": {"hold": "place"}, **query_fields(sql, None, "hold place --query")}
    run_logged(trail, "hold", details, work)
    if not found:
        raise HoldQueryError("--query returned no message id: nothing to hold")
    return tuple(found)
