"""`rc-archive sql` as the access trail needs it: the rendered answer and its row count.

Why a sibling of `pipelines.audit.formatting.sql_command`: the access event records how many
rows a query returned, which the rendered text no longer tells. Same checks, same connection
(read-only by construction), same rendering.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.audit.connection import connect
from pipelines.audit.formatting import FORMATS, check_read_only, render
from pipelines.audit.queries import run_query


def sql_command(
    audit_db: str | os.PathLike[str] | None,
    sql: str,
    params: Mapping[str, Any] | Sequence[Any] | None = None,
    fmt: str = "table",
    env: Mapping[str, str] | None = None,
) -> tuple[str, int]:
    """Run one read-only query on the catalog: (the answer rendered as `fmt`, rows returned)."""
    if fmt not in FORMATS:
        raise ValueError(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    check_read_only(sql)
    conn = connect(audit_db, env, read_only=True)
    try:
        result = run_query(conn, sql, params)
        return render(result, fmt), len(result.rows)
    finally:
        conn.close()
