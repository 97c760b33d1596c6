"""Render a query result as a text table, CSV, JSON or JSON lines, and refuse SQL that is not
a query.

`check_read_only` refuses anything but a query before `rc-archive sql` runs it
(pipelines/query/sql.py): DuckDB's read-only mode already stops writes to the catalog, but not
COPY ... TO (writes a file), ATTACH or SET, and an auditor's tool must not do those either.

Streaming. `Renderer` turns rows into text a block at a time, so `rc-archive sql` writes an
answer of any size as DuckDB produces it, in constant memory (pipelines/query/sql.py):
csv, json and jsonl come out exactly as if rendered whole. The aligned table needs the width of
every column before its first line, so it is aligned per block of rows (`TABLE_BLOCK_ROWS`, the
rows of one fetch): the first block sets the widths; a later block that needs a wider column
widens it and prints the header and rule again above itself, so every row stays under a header
it lines up with; `(N rows)` ends the table. An answer of one block is the table it always was.

CSV, explicitly (`CsvOptions`, `rc-archive sql --null`, `--formulas`): a NULL is an empty
unquoted field unless `--null TEXT` names another text, and an empty string is always `""`, so
the two stay apart (a string equal to the NULL text is quoted, too). A text cell a spreadsheet
would run as a formula (it starts with = + - @, tab or CR) gets a leading `'` by default
(OWASP "CSV injection"; numbers are never changed), and `rc-archive sql` says on stderr how
many; `--formulas keep` writes them as stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import duckdb
from wcwidth import wcswidth, wcwidth

from pipelines.query.queries import QueryResult
from pipelines.query.terminal_text import bool_text, terminal_safe, timestamp_text

FORMATS = ("table", "csv", "json", "jsonl")
_READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
# Widest cell of a table, in characters: `SELECT * FROM messages` shows raw_json and bodies of
# any length, and a table is for reading on a screen (csv and json are never truncated).
MAX_CELL_WIDTH = 60
# Rows aligned together in a streamed table (see the module docstring).
TABLE_BLOCK_ROWS = 1000
# Cells a spreadsheet would run as a formula (OWASP "CSV injection"): a leading quote makes
# them text. Tab and CR are on OWASP's list because some programs skip them before parsing.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_MODES = ("quote", "keep")
_CSV_QUOTED = re.compile('[,"\r\n]')
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class NotReadOnlyQuery(ValueError):
    """The statement would change something; `rc-archive sql` only reads."""


@dataclass(frozen=True)
class CsvOptions:
    """How CSV shows what a spreadsheet or a loader would otherwise get wrong (module
    docstring): `null` is the text of a NULL; `formulas` is "quote" or "keep"."""

    null: str = ""
    formulas: str = "quote"

    def __post_init__(self) -> None:
        if self.formulas not in FORMULA_MODES:
            raise ValueError(f"formulas={self.formulas!r}: expected one of {FORMULA_MODES}")
        if _CSV_QUOTED.search(self.null):
            raise ValueError(
                f"--null {self.null!r}: a NULL's text cannot hold a comma, a double quote or "
                "a line break (it is written unquoted, to stay apart from a string)"
            )


# Values every renderer shows as they are (checked by exact type first: the common case).
_AS_IS = (str, int, float, type(None))


def _plain(value: Any) -> Any:
    """A value as JSON would hold it, times and booleans in the one style of terminal_text."""
    if type(value) in _AS_IS:
        return value
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
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return bool_text(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(_plain(value))


def display_width(text: str) -> int:
    """Terminal columns `text` takes: CJK and most emoji take two, combining marks and joiners
    none (wcwidth, which follows the Unicode tables; counting code points misaligned every
    Japanese or emoji cell)."""
    width = wcswidth(text)
    return width if width >= 0 else len(text)


def _cut(text: str, max_width: int) -> str:
    """`text` cut to at most `max_width` columns, with "…" (one column) when cut."""
    if display_width(text) <= max_width:
        return text
    out, used = [], 0
    for char in text:
        char_width = max(wcwidth(char), 0)
        if used + char_width > max_width - 1:
            break
        out.append(char)
        used += char_width
    return "".join(out) + "…"


def _cell(value: Any, max_width: int | None) -> str:
    if value is None:
        return "NULL"
    text = terminal_safe(_text(value))
    if max_width is not None:
        return _cut(text, max_width)
    return text


def csv_safe(text: str) -> str:
    """`text` prefixed with `'` when a spreadsheet would otherwise run it as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


class Renderer:
    """Rows to text in `fmt`, a block at a time: `begin()`, `rows_text(block)` per block,
    `end()`; each piece ends with its newline (`render` drops the last one). Counts the rows
    it rendered (`rows`) and the CSV cells it neutralised (`neutralised`)."""

    def __init__(
        self,
        columns: Sequence[str],
        fmt: str,
        *,
        max_width: int | None = MAX_CELL_WIDTH,
        csv: CsvOptions | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
        self.columns = list(columns)
        self.fmt = fmt
        self.max_width = max_width
        self.csv = csv or CsvOptions()
        self.rows = 0
        self.neutralised = 0
        self._widths: list[int] | None = None

    def begin(self) -> str:
        if self.fmt == "csv":
            return self._csv_line(self.columns, header=True)
        if self.fmt == "json":
            return "["
        return ""

    def rows_text(self, rows: Sequence[Sequence[Any]]) -> str:
        if not rows:
            return ""
        first = self.rows == 0
        self.rows += len(rows)
        if self.fmt == "table":
            return self._table_block(rows)
        if self.fmt == "csv":
            return "".join(self._csv_line(row) for row in rows)
        if self.fmt == "jsonl":
            return "".join(
                _json_safe(json.dumps(self._plain_row(row), ensure_ascii=False)) + "\n"
                for row in rows
            )
        pieces = []
        for number, row in enumerate(rows):
            text = json.dumps(self._plain_row(row), ensure_ascii=False, indent=2)
            lead = "\n" if first and number == 0 else ",\n"
            pieces.append(lead + "  " + text.replace("\n", "\n  "))
        return _json_safe("".join(pieces))

    def end(self) -> str:
        if self.fmt == "table":
            head = self._table_head() if self._widths is None else ""
            return head + f"({self.rows} row{'s' if self.rows != 1 else ''})\n"
        if self.fmt == "json":
            return ("\n]" if self.rows else "]") + "\n"
        return ""

    # -- table --------------------------------------------------------------------------

    def _table_head(self, widths: list[int] | None = None) -> str:
        header = [_cell(c, self.max_width) for c in self.columns]
        if widths is None:
            widths = [display_width(c) for c in header]
        self._widths = widths
        line = "-+-".join("-" * w for w in widths)  # "+" under each " | "
        return _table_line(header, widths) + line + "\n"

    def _table_block(self, rows: Sequence[Sequence[Any]]) -> str:
        cells = [[_cell(v, self.max_width) for v in row] for row in rows]
        widths = self._widths or [display_width(_cell(c, self.max_width)) for c in self.columns]
        wider = list(widths)
        for row in cells:
            wider = [max(w, display_width(c)) for w, c in zip(wider, row, strict=True)]
        head = self._table_head(wider) if self._widths is None or wider != widths else ""
        return head + "".join(_table_line(row, wider) for row in cells)

    # -- csv and json -------------------------------------------------------------------

    def _csv_line(self, row: Sequence[Any], header: bool = False) -> str:
        return ",".join(self._csv_field(v, header) for v in row) + "\n"

    def _csv_field(self, value: Any, header: bool) -> str:
        """Full value (never cut); a NULL as `csv.null`, an empty string (and a string equal
        to the NULL text) quoted; text cells formula-neutralised unless `formulas` is keep
        (judged on the stored text); control characters other than the newline and tab that
        CSV quoting carries are escaped, since this text is printed on a terminal
        (`rc-archive export` writes the exact text to files)."""
        if value is None:
            return self.csv.null
        text = _text(value)
        numeric = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
        if self.csv.formulas == "quote" and not numeric and text.startswith(_FORMULA_START):
            text = "'" + text
            self.neutralised += 0 if header else 1
        if "\n" in text or "\t" in text:
            text = "\n".join(
                "\t".join(terminal_safe(piece) for piece in line.split("\t"))
                for line in text.split("\n")
            )
        else:
            text = terminal_safe(text)
        if text == "" or text == self.csv.null or _CSV_QUOTED.search(text):
            return '"' + text.replace('"', '""') + '"'
        return text

    def _plain_row(self, row: Sequence[Any]) -> dict[str, Any]:
        return {k: _plain(v) for k, v in zip(self.columns, row, strict=True)}


def _table_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = (c + " " * (w - display_width(c)) for c, w in zip(cells, widths, strict=True))
    return " | ".join(padded).rstrip() + "\n"


def _json_safe(text: str) -> str:
    """The characters json.dumps leaves raw that act on a terminal (DEL, C1, bidi, line
    separators) as \\uXXXX escapes, which decode to the same string."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render_stream(renderer: Renderer, blocks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[str]:
    """The text of `blocks` of rows, piece by piece (begin, one piece per block, end)."""
    yield renderer.begin()
    for block in blocks:
        yield renderer.rows_text(block)
    yield renderer.end()


def render_table(result: QueryResult, max_width: int | None = MAX_CELL_WIDTH) -> str:
    """Aligned columns; each cell terminal-safe and cut to `max_width` characters (None: never
    cut). Like every renderer here, no trailing newline: the caller's print() ends the line."""
    return render(result, "table", max_width)


def render_csv(result: QueryResult, options: CsvOptions | None = None) -> str:
    return _render_whole(Renderer(result.columns, "csv", csv=options), result.rows)


def render_json(result: QueryResult) -> str:
    """Exact values; the characters json.dumps leaves raw that act on a terminal (DEL, C1,
    bidi, line separators) are written as \\uXXXX escapes, which decode to the same string."""
    return render(result, "json")


def render(
    result: QueryResult,
    fmt: str,
    max_width: int | None = MAX_CELL_WIDTH,
    csv: CsvOptions | None = None,
) -> str:
    """`result` as `fmt`, without a trailing newline (print() adds the one line end)."""
    return _render_whole(Renderer(result.columns, fmt, max_width=max_width, csv=csv), result.rows)


def _render_whole(renderer: Renderer, rows: Sequence[Sequence[Any]]) -> str:
    return "".join(render_stream(renderer, [rows])).removesuffix("\n")


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
