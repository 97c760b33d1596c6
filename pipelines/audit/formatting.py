"""Render a query result as a text table, CSV or JSON, and the `rc-archive sql` command.

`sql_command` opens the catalog read-only and refuses anything but a query before running it:
DuckDB's read-only mode already stops writes to the catalog, but not COPY ... TO (writes a
file), ATTACH or SET, and an auditor's tool must not do those either.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from pipelines.audit.connection import connect
from pipelines.audit.queries import QueryResult, run_query

FORMATS = ("table", "csv", "json")
_READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_MAX_CELL = 80


class NotReadOnlyQuery(ValueError):
    """The statement would change something; `rc-archive sql` only reads."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list | dict):
        text = json.dumps(_plain(value), ensure_ascii=False)
    else:
        text = str(_plain(value))
    text = text.replace("\n", "\\n")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def render_table(result: QueryResult) -> str:
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [len(c) for c in result.columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [
        " | ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True)),
        line,
    ]
    out += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def render_csv(result: QueryResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(
            "" if v is None else json.dumps(_plain(v)) if isinstance(v, list | dict) else _plain(v)
            for v in row
        )
    return buffer.getvalue()


def render_json(result: QueryResult) -> str:
    rows = [{k: _plain(v) for k, v in row.items()} for row in result.as_dicts()]
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


def render(result: QueryResult, fmt: str) -> str:
    renderers = {"table": render_table, "csv": render_csv, "json": render_json}
    if fmt not in renderers:
        raise ValueError(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    return renderers[fmt](result)


def check_read_only(sql: str) -> None:
    """Raise NotReadOnlyQuery unless every statement in `sql` is a query (SELECT/EXPLAIN)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise NotReadOnlyQuery(f"SQL does not parse: {exc}") from None
    if not statements:
        raise NotReadOnlyQuery("no SQL statement given")
    for statement in statements:
        if statement.type not in _READ_STATEMENTS:
            kind = statement.type.name
            raise NotReadOnlyQuery(
                f"rc-archive sql only runs read-only queries (SELECT, WITH, DESCRIBE, SHOW, "
                f"EXPLAIN); refused a {kind} statement: {statement.query.strip()[:80]!r}"
            )
    if len(statements) > 1:
        raise NotReadOnlyQuery("rc-archive sql runs one query at a time; split the statements")


def sql_command(
    audit_db: str | os.PathLike[str] | None,
    sql: str,
    params: Mapping[str, Any] | Sequence[Any] | None = None,
    fmt: str = "table",
    env: Mapping[str, str] | None = None,
) -> str:
    """Run one read-only query on the catalog and return it rendered as `fmt`."""
    if fmt not in FORMATS:
        raise ValueError(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    check_read_only(sql)
    conn = connect(audit_db, env, read_only=True)
    try:
        return render(run_query(conn, sql, params), fmt)
    finally:
        conn.close()
