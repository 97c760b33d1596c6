"""`rc-archive sql` as the access trail needs it: the answer, its row count, and streaming.

Every query here is refused unless it is one read-only query (`formatting.check_read_only`,
then `connection.check_query` on a connection that is read-only by construction), and its
answer comes with the rows it returned, which the access event records (the rendered text no
longer tells them).

`stream_sql` is what the command runs: DuckDB's result is fetched `FETCH_ROWS` rows at a time
and each block is rendered and written before the next is fetched, so memory stays the same
whatever the answer's size and the first rows appear as soon as DuckDB has them; the access
event comes first (`access_logged.run_logged_stream`). `sql_command` renders a whole answer
into a string, for `review next` and the library.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

from pipelines.catalog.connection import check_query, connect
from pipelines.governance.access_trail import AccessTrail
from pipelines.query.access_logged import run_logged_stream
from pipelines.query.formatting import (
    FORMATS,
    CsvOptions,
    Renderer,
    check_read_only,
    render,
    render_stream,
)
from pipelines.query.queries import run_query
from pipelines.settings import Settings

# Rows per fetch from DuckDB, rendered and written together (and a streamed table's block).
FETCH_ROWS = 1000


def sql_command(
    audit_db: str | os.PathLike[str] | None,
    sql: str,
    params: Mapping[str, Any] | Sequence[Any] | None = None,
    fmt: str = "table",
    settings: Settings | None = None,
) -> tuple[str, int]:
    """Run one read-only query on the catalog: (the answer rendered as `fmt`, rows returned).
    The catalog is opened with `settings`; None: the defaults (no ARCHIVE_URI: the views read
    the archive the catalog recorded; S3 through the AWS credential chain)."""
    if fmt not in FORMATS:
        raise ValueError(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    check_read_only(sql)
    conn = connect(audit_db, settings or Settings(), read_only=True)
    try:
        result = run_query(conn, sql, params)
        return render(result, fmt), len(result.rows)
    finally:
        conn.close()


def stream_sql(
    trail: AccessTrail,
    details: Mapping[str, Any],
    audit_db: str | os.PathLike[str] | None,
    sql: str,
    params: Mapping[str, Any] | Sequence[Any] | None,
    fmt: str,
    settings: Settings,
    out: TextIO,
    *,
    csv: CsvOptions | None = None,
) -> Renderer:
    """Run one read-only query on the catalog and write its answer to `out` as it comes, with
    its access event(s) (`run_logged_stream`). Returns the renderer (`rows` written,
    `neutralised` CSV cells). A query that is refused or fails is recorded and raised."""
    if fmt not in FORMATS:
        raise ValueError(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    state: dict[str, Renderer] = {}

    def pieces() -> Iterator[str]:
        check_read_only(sql)
        conn = connect(audit_db, settings, read_only=True)
        try:
            check_query(conn, sql)
            cursor = conn.execute(sql, params) if params else conn.execute(sql)
            columns = [column[0] for column in cursor.description or []]
            renderer = state["renderer"] = Renderer(columns, fmt, csv=csv)
            yield from render_stream(renderer, _blocks(cursor))
        finally:
            conn.close()

    def rows() -> int:
        renderer = state.get("renderer")
        return renderer.rows if renderer is not None else 0

    run_logged_stream(trail, "sql", details, pieces(), rows, out)
    return state["renderer"]


def _blocks(cursor: Any) -> Iterator[list[tuple[Any, ...]]]:
    while block := cursor.fetchmany(FETCH_ROWS):
        yield block
