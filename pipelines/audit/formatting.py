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
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import duckdb

from pipelines.audit.connection import connect
from pipelines.audit.queries import QueryResult, run_query
from pipelines.audit.terminal_text import bool_text, terminal_safe, timestamp_text

FORMATS = ("table", "csv", "json")
_READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
# Widest cell of a table, in characters: `SELECT * FROM messages` shows raw_json and bodies of
# any length, and a table is for reading on a screen (csv and json are never truncated).
MAX_CELL_WIDTH = 60
# Cells a spreadsheet would run as a formula (OWASP "CSV injection"): a leading quote makes
# them text. Tab and CR are on OWASP's list because some programs skip them before parsing.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class NotReadOnlyQuery(ValueError):
    """The statement would change something; `rc-archive sql` only reads."""


def _plain(value: Any) -> Any:
    """A value as JSON would hold it, times and booleans in the one style of terminal_text."""
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    """One value as text for a table or CSV cell (NULL handled by the caller)."""
    if isinstance(value, bool):
        return bool_text(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(_plain(value))


def _cell(value: Any, max_width: int | None) -> str:
    if value is None:
        return "NULL"
    text = terminal_safe(_text(value))
    if max_width is not None and len(text) > max_width:
        return text[: max(max_width - 1, 0)] + "…"
    return text


def csv_safe(text: str) -> str:
    """`text` prefixed with `'` when a spreadsheet would otherwise run it as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_table(result: QueryResult, max_width: int | None = MAX_CELL_WIDTH) -> str:
    """Aligned columns; each cell terminal-safe and cut to `max_width` characters (None: never
    cut). Like every renderer here, no trailing newline: the caller's print() ends the line."""
    header = [_cell(c, max_width) for c in result.columns]
    cells = [[_cell(v, max_width) for v in row] for row in result.rows]
    widths = [len(c) for c in header]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "-+-".join("-" * w for w in widths)  # "+" under each " | "
    out = [
        " | ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip(),
        line,
    ]
    out += [
        " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out)


def _csv_cell(value: Any) -> str:
    """Full value (never cut), formula-neutralised (judged on the stored text); control
    characters other than the newline and tab that CSV quoting carries are escaped, since this
    text is printed on a terminal (`rc-archive export` writes the exact text to files)."""
    if value is None:
        return ""
    text = csv_safe(_text(value))
    return "\n".join(
        "\t".join(terminal_safe(piece) for piece in line.split("\t")) for line in text.split("\n")
    )


def render_csv(result: QueryResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_csv_cell(c) for c in result.columns])
    for row in result.rows:
        writer.writerow(_csv_cell(v) for v in row)
    return buffer.getvalue().removesuffix("\n")


def render_json(result: QueryResult) -> str:
    """Exact values; the characters json.dumps leaves raw that act on a terminal (DEL, C1,
    bidi, line separators) are written as \\uXXXX escapes, which decode to the same string."""
    rows = [{k: _plain(v) for k, v in row.items()} for row in result.as_dicts()]
    text = json.dumps(rows, ensure_ascii=False, indent=2)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render(result: QueryResult, fmt: str, max_width: int | None = MAX_CELL_WIDTH) -> str:
    """`result` as `fmt`, without a trailing newline (print() adds the one line end)."""
    if fmt == "table":
        return render_table(result, max_width)
    renderers = {"csv": render_csv, "json": render_json}
    if fmt not in renderers:
        raise ValueError(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    return renderers[fmt](result)


def check_read_only(sql: str) -> None:
    """Raise NotReadOnlyQuery unless every statement in `sql` is a query (SELECT/EXPLAIN)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        # DuckDB quotes the SQL back, and the SQL may be pasted from archived text: its first
        # line only, made terminal-safe.
        reason = terminal_safe((str(exc).strip().splitlines() or [""])[0])
        raise NotReadOnlyQuery(f"SQL does not parse: {reason}") from None
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
