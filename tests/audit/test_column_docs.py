"""Column descriptions of the audit views: complete, not stale, in the catalog, on the command
line (`rc-archive sql --describe VIEW`) and in docs/columns.md."""

from __future__ import annotations

import importlib.util
import re
from collections import defaultdict
from pathlib import Path

import pytest

from cli.main import main
from pipelines.catalog.column_docs import COLUMN_DOCS, SHARED, VIEW_DOCS
from pipelines.catalog.views import PUBLIC_VIEWS
from pipelines.query.describe import UnknownView, describe_command
from pipelines.settings import Settings
from schemas.tables import TABLES

REPO = Path(__file__).resolve().parents[2]


def _columns(conn, view: str) -> list[str]:
    return [row[0] for row in conn.execute(f'DESCRIBE "{view}"').fetchall()]


def test_the_public_views_are_the_documented_views(conn):
    shown = {row[0] for row in conn.execute("SHOW TABLES").fetchall()}
    assert shown == set(PUBLIC_VIEWS) == set(COLUMN_DOCS) == set(VIEW_DOCS)


@pytest.mark.parametrize("view", PUBLIC_VIEWS)
def test_every_column_has_a_description_and_no_description_is_stale(conn, view):
    columns = _columns(conn, view)
    undocumented = [c for c in columns if not (COLUMN_DOCS[view].get(c) or "").strip()]
    assert undocumented == [], f"{view}: columns without a description"
    stale = sorted(set(COLUMN_DOCS[view]) - set(columns))
    assert stale == [], f"{view}: descriptions of columns the view does not have"
    assert VIEW_DOCS[view].strip()


def test_the_catalog_stores_the_descriptions_as_comments(conn):
    rows = conn.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    stored: dict[str, dict[str, str]] = defaultdict(dict)
    for view, column, comment in rows:
        stored[view][column] = comment
    assert dict(stored) == COLUMN_DOCS
    views = conn.execute(
        "SELECT view_name, comment FROM duckdb_views() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    assert dict(views) == VIEW_DOCS


def test_a_meaning_shared_by_views_is_written_once():
    """The same description of the same column in two views must come from SHARED or from the
    table declaration (schemas/) the views pass on."""
    declared = {(c.name, c.description) for t in TABLES.values() for c in t.columns}
    views_by_text: dict[tuple[str, str], set[str]] = defaultdict(set)
    for view, columns in COLUMN_DOCS.items():
        for column, text in columns.items():
            views_by_text[(column, text)].add(view)
    copied = [
        (column, sorted(views))
        for (column, text), views in views_by_text.items()
        if len(views) > 1 and SHARED.get(column) != text and (column, text) not in declared
    ]
    assert copied == []
    for column in ("id", "source_id", "record_sha256"):
        assert column in SHARED


def test_describe_prints_name_type_and_description(local_catalog):
    text = describe_command(local_catalog.audit_db, "capture_lag", "table", Settings())
    lines = text.splitlines()
    assert re.match(r"column +\| type +\| description$", lines[0])
    for column, description in COLUMN_DOCS["capture_lag"].items():
        assert any(
            line.startswith(column + " ") and line.endswith(description) for line in lines
        ), column
    assert re.search(r"^lag_seconds +\| DOUBLE +\| Capture lag", text, re.MULTILINE)
    assert lines[-1] == f"({len(COLUMN_DOCS['capture_lag'])} rows)"


def test_describe_an_unknown_view_names_the_views(local_catalog):
    with pytest.raises(UnknownView) as raised:
        describe_command(local_catalog.audit_db, "mesages", "table", Settings())
    message = str(raised.value)
    assert "\n" not in message
    assert "'mesages'" in message
    assert all(view in message for view in PUBLIC_VIEWS)


def test_sql_describe_on_the_command_line(local_catalog, monkeypatch, capsys):
    monkeypatch.setenv("AUDIT_DB", local_catalog.audit_db)
    monkeypatch.delenv("ARCHIVE_URI", raising=False)
    assert main(["sql", "--describe", "messages", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "column,type,description"
    assert [line.split(",")[0] for line in out[1:]] == list(
        _describe_order(local_catalog, "messages")
    )
    assert main(["sql", "--describe", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown view 'nope'" in err and "capture_lag" in err


def _describe_order(local_catalog, view):
    from pipelines.catalog.connection import connect

    conn = connect(local_catalog.audit_db, Settings())
    try:
        return _columns(conn, view)
    finally:
        conn.close()


def _generator():
    spec = importlib.util.spec_from_file_location("gen_columns", REPO / "docs" / "gen_columns.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_columns_md_is_the_generators_output():
    committed = (REPO / "docs" / "columns.md").read_text(encoding="utf-8")
    assert committed == _generator().generate(), (
        "docs/columns.md is stale: run `PYTHONPATH=. python docs/gen_columns.py` and commit it"
    )
    for view, columns in COLUMN_DOCS.items():
        assert f"## {view}\n" in committed
        for column in columns:
            assert f"| `{column}` |" in committed


def test_docs_columns_md_references_nothing_outside_the_repository():
    text = (REPO / "docs" / "columns.md").read_text(encoding="utf-8")
    assert "://" not in text
    assert not re.search(r"(^|[\s(`])/[a-z]", text, re.MULTILINE)  # no absolute path
    for target in re.findall(r"\]\(([^)]+)\)", text):
        assert target.startswith("#"), target  # links stay on the page
