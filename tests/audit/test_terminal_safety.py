"""Hostile archived text never acts on the terminal: transcripts cannot be forged, escapes are
shown, not run; `rc-archive sql` output is terminal-safe, cut in tables, whole in csv/json, with
one style for booleans and timestamps."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from cli.main import main
from pipelines.catalog.connection import connect
from pipelines.query.formatting import render, render_table
from pipelines.query.queries import QueryResult
from pipelines.query.sql import sql_command
from pipelines.query.terminal_text import terminal_safe, terminal_safe_lines
from pipelines.query.transcript import HEADER_LINE, render_transcript, thread_transcript
from pipelines.settings import Settings
from tests.audit.hostile_dataset import (
    EVIL_AGENT,
    EVIL_NAME,
    FORMULAS,
    HOSTILE_BODY,
    HOSTILE_THREAD,
    build_hostile_catalog,
)

# Everything that must never reach a terminal raw (LF only as the renderer's own line breaks).
RAW_UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return build_hostile_catalog(tmp_path_factory.mktemp("hostile"))


@pytest.fixture
def hconn(hostile):
    connection = connect(hostile.audit_db, Settings())
    try:
        yield connection
    finally:
        connection.close()


def _message_lines(text: str) -> list[str]:
    """Lines after the title and its underline that start at column 0: in a transcript only
    the per-message headers may, whatever the bodies hold."""
    return [line for line in text.split("\n")[2:] if line and not line[0].isspace()]


def test_a_body_cannot_forge_a_message_header(hconn):
    lines = thread_transcript(hconn, HOSTILE_THREAD)
    assert [line.body for line in lines][0] == HOSTILE_BODY  # the data itself is exact
    text = render_transcript(lines, HOSTILE_THREAD)
    assert len(_message_lines(text)) == len(lines) == 2
    assert all(HEADER_LINE.match(line) for line in _message_lines(text))
    assert sum(bool(HEADER_LINE.match(line)) for line in text.split("\n")) == 2
    # The forged attachment line is body text, behind the body marker.
    assert not [line for line in text.split("\n") if line.startswith("    attachment:")]
    assert "    | 2026-12-02 01:20:00 UTC -> outbound Lea Dubois [agent: Lea Dubois]" in text


def test_transcript_shows_escapes_instead_of_running_them(hconn):
    text = render_transcript(thread_transcript(hconn, HOSTILE_THREAD), HOSTILE_THREAD)
    assert not RAW_UNSAFE.search(text)
    assert "\\x1b]0;you have been pwned\\x07" in text and "\\x1b[8m" in text
    assert "\\u202egpj.exe\\x9b\\x7f" in text and "\\rOVERPRINT" in text
    # Names in headers: escaped and quoted, so a CR/LF or a quote cannot break the header.
    assert '"Mallory\\r\\nBcc: victim@example.com\\x1b[2J"' in text
    assert '[agent: "Agent\\nX-Injected: yes"]' in text
    assert "    | line one\n    | line two" in text


def test_transcript_times_are_iso_utc_with_milliseconds(hconn):
    text = render_transcript(thread_transcript(hconn, HOSTILE_THREAD), HOSTILE_THREAD)
    assert _message_lines(text)[0].startswith("2026-03-02T09:00:00.000Z <- inbound ")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31m", "\\x1b[31m"),
        ("\x00\x07\x08\t\r\n\x7f", "\\x00\\x07\\x08\\t\\r\\n\\x7f"),
        ("\x85\x9b", "\\x85\\x9b"),
        ("\u202a\u202b\u202c\u202d\u202e", "\\u202a\\u202b\\u202c\\u202d\\u202e"),
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("Zoë 東京 🙂", "Zoë 東京 🙂"),
    ],
)
def test_terminal_safe_escapes_controls_and_bidi_only(raw, shown):
    assert terminal_safe(raw) == shown
    assert terminal_safe_lines("a\x1b\nb") == ["a\\x1b", "b"]


def test_sql_table_is_terminal_safe_and_cut(hostile):
    out, _ = sql_command(hostile.audit_db, "SELECT id, body FROM messages WHERE id = 'h1'", None)
    assert not RAW_UNSAFE.search(out)
    row = out.split("\n")[2]
    body_cell = row.split(" | ", 1)[1]
    assert len(body_cell) == 60 and body_cell.endswith("…")
    assert body_cell.startswith("hi\\n2026-12-02 01:20:00 UTC")


def test_table_max_width_and_whole_csv_json():
    long = "y" * 500
    result = QueryResult(["long"], [(long,)])
    assert render_table(result, max_width=20).split("\n")[2] == "y" * 19 + "…"
    assert long in render_table(result, max_width=None)
    assert long in render(result, "csv") and long in render(result, "json")


def test_sql_json_is_exact_and_terminal_safe(hostile):
    out, _ = sql_command(
        hostile.audit_db, "SELECT body FROM messages WHERE id = 'h1'", None, "json", Settings()
    )
    assert not RAW_UNSAFE.search(out)
    assert json.loads(out) == [{"body": HOSTILE_BODY}]


def test_sql_csv_neutralises_formulas(hostile):
    out, _ = sql_command(
        hostile.audit_db,
        "SELECT body FROM messages WHERE thread_id = 't-formulas' ORDER BY id",
        None,
        "csv",
        Settings(),
    )
    cells = [row[0] for row in csv.reader(io.StringIO(out))][1:]
    assert len(cells) == len(FORMULAS)
    for cell in cells:
        assert cell.startswith("'"), cell
    assert "'=HYPERLINK(" in out and "'@SUM(A1)" in out and "'\\rCR" in out


def test_values_print_in_one_style(hostile):
    sql = (
        "SELECT true AS yes, false AS no, remotely_deleted, creation_time, "
        "TIMESTAMPTZ '2026-03-02 09:00:00.5+02' AS t2, DATE '2026-03-02' AS d "
        "FROM messages WHERE id = 'h1'"
    )
    table, _ = sql_command(hostile.audit_db, sql, None, "table", Settings())
    csv_out, _ = sql_command(hostile.audit_db, sql, None, "csv", Settings())
    json_out = json.loads(sql_command(hostile.audit_db, sql, None, "json", Settings())[0])
    row = ["true", "false", "false", "2026-03-02T09:00:00.000Z", "2026-03-02T07:00:00.500Z"]
    row.append("2026-03-02")
    assert [c.strip() for c in table.split("\n")[2].split(" | ")] == row
    assert csv_out.split("\n")[1].split(",") == row
    assert json_out == [
        {
            "yes": True,
            "no": False,
            "remotely_deleted": False,
            "creation_time": row[3],
            "t2": row[4],
            "d": row[5],
        }
    ]
    assert "True" not in table + csv_out and "+00:00" not in table + csv_out


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_cli_output_ends_with_one_newline(hostile, monkeypatch, capsys, fmt):
    monkeypatch.setenv("AUDIT_DB", str(hostile.audit_db))
    assert main(["sql", "SELECT 1 AS n", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n") and not out.endswith("\n\n")


def test_cli_thread_prints_a_safe_transcript(hostile, monkeypatch, capsys):
    monkeypatch.setenv("AUDIT_DB", str(hostile.audit_db))
    assert main(["thread", HOSTILE_THREAD]) == 0
    out = capsys.readouterr().out
    assert not RAW_UNSAFE.search(out) and not out.endswith("\n\n")
    assert len(_message_lines(out)) == 2
    assert EVIL_NAME not in out and EVIL_AGENT not in out


def test_table_rule_lines_up_with_the_column_bars():
    table = render_table(QueryResult(["id", "n"], [("abc", 1), ("d", 22)])).split("\n")
    bars = [i for i, char in enumerate(table[0]) if char == "|"]
    assert [i for i, char in enumerate(table[1]) if char == "+"] == bars
    assert [i for i, char in enumerate(table[2]) if char == "|"] == bars


def test_sql_errors_are_terminal_safe(hostile):
    with pytest.raises(ValueError) as caught:
        sql_command(hostile.audit_db, "SELEC '\x1b]0;pwned\x07' \u202e", None, "table", Settings())
    assert not RAW_UNSAFE.search(str(caught.value)) and "\n" not in str(caught.value)
