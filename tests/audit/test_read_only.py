"""`rc-archive sql` and every audit connection only read the committed files: each known bypass
is refused in one line and leaves every file as it was (bytes, mtimes, no new file).

The connection itself refuses (external access off, only the committed files allowed, config
locked); `check_query` refuses what the configuration cannot tell from a read, a COPY onto a file
the connection may read (a committed file, the catalog)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb
import pytest

from cli.main import main
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import QueryRefused, check_query, connect
from pipelines.query.queries import run_query
from pipelines.settings import Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import write_dataset


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, dataset):
    """A fresh archive and catalog of its own (these tests try to overwrite them)."""
    root = tmp_path_factory.mktemp("readonly")
    write_dataset(ArchiveBuilder(str(root / "archive")), dataset)
    build_catalog(root / "archive", root / "audit.duckdb", Settings())
    return root


@pytest.fixture
def cli_env(workspace, monkeypatch):
    monkeypatch.setenv("ARCHIVE_URI", str(workspace / "archive"))
    monkeypatch.setenv("AUDIT_DB", str(workspace / "audit.duckdb"))
    monkeypatch.chdir(workspace)  # a relative COPY target would land here
    return workspace


def _snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, _sha(path))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _committed_parquet(root: Path) -> Path:
    return next((root / "archive" / "contents").rglob("*.parquet"))


def _bypasses(root: Path) -> dict[str, str]:
    parquet = _committed_parquet(root)
    db = root / "audit.duckdb"
    outside = root.parent / "outside.csv"
    outside.write_text("a,b\n1,2\n")
    no_tmp = "USE_TMP_FILE false"
    ledger = root / "archive" / "_ledger"
    return {
        "explain_analyze_copy": "EXPLAIN ANALYZE COPY (SELECT * FROM messages) TO 'x.csv'",
        "copy_over_committed": f"COPY (SELECT 1 AS x) TO '{parquet}' (FORMAT parquet, {no_tmp})",
        "explain_copy_over_committed": f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{parquet}' ({no_tmp})",
        "write_into_ledger": f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{ledger}/stray.json'",
        "overwrite_catalog": f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{db}' (FORMAT csv, {no_tmp})",
        "read_text": "SELECT * FROM read_text('/etc/hostname')",
        "read_csv_outside": f"SELECT * FROM read_csv('{outside}')",
        "glob": "SELECT * FROM glob('/etc/*')",
        "set_external_access": "SET enable_external_access = true",
        "reset_external_access": "RESET enable_external_access",
        "attach": f"ATTACH '{root}/other.duckdb' AS other",
        "install_fts": "INSTALL fts",
        "load_fts": "LOAD fts",
        "fts_pragma": "PRAGMA create_fts_index('messages', 'id', 'body')",
        "http": "SELECT * FROM read_text('http://127.0.0.1:9/')",
    }


BYPASS_NAMES = [
    "explain_analyze_copy",
    "copy_over_committed",
    "explain_copy_over_committed",
    "write_into_ledger",
    "overwrite_catalog",
    "read_text",
    "read_csv_outside",
    "glob",
    "set_external_access",
    "reset_external_access",
    "attach",
    "install_fts",
    "load_fts",
    "fts_pragma",
    "http",
]


@pytest.mark.parametrize("name", BYPASS_NAMES)
def test_sql_command_refuses_each_bypass_in_one_line_and_writes_nothing(cli_env, capsys, name):
    sql = _bypasses(cli_env)[name]
    before = _snapshot(cli_env)
    assert main(["sql", sql]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rc-archive sql: ") and len(err.splitlines()) == 1, err
    after = _snapshot(cli_env)
    # The one thing written is the access trail's record of the refused query.
    [event] = [key for key in after.keys() - before.keys() if key.startswith("archive/_access/")]
    assert json.loads((cli_env / event).read_text())["status"] == "failed"
    assert {k: v for k, v in after.items() if k != event} == before
    assert not (cli_env / "x.csv").exists()


@pytest.mark.parametrize("name", BYPASS_NAMES)
def test_run_query_refuses_each_bypass_on_the_locked_connection(workspace, name):
    """The second line: the statement check parses on the locked connection."""
    sql = _bypasses(workspace)[name]
    before = _snapshot(workspace)
    conn = connect(workspace / "audit.duckdb", Settings())
    try:
        with pytest.raises((QueryRefused, duckdb.Error)):
            run_query(conn, sql)
    finally:
        conn.close()
    assert _snapshot(workspace) == before


@pytest.mark.parametrize(
    "name",
    [
        "explain_analyze_copy",
        "write_into_ledger",
        "read_text",
        "read_csv_outside",
        "glob",
        "set_external_access",
        "reset_external_access",
        "attach",
        "install_fts",
        "load_fts",
        "http",
    ],
)
def test_the_connection_itself_refuses_without_the_statement_check(workspace, name, monkeypatch):
    """By construction: raw conn.execute, no check_query in front, still cannot do it."""
    monkeypatch.chdir(workspace)
    sql = _bypasses(workspace)[name]
    before = _snapshot(workspace)
    conn = connect(workspace / "audit.duckdb", Settings())
    try:
        with pytest.raises(duckdb.Error):
            conn.execute(sql).fetchall()
        # The connection is still locked and usable afterwards.
        assert conn.execute("SELECT current_setting('enable_external_access')").fetchone() == (
            False,
        )
    finally:
        conn.close()
    assert _snapshot(workspace) == before
    assert not (workspace / "x.csv").exists()


def test_queries_and_explain_analyze_of_a_query_still_run(cli_env, capsys):
    assert main(["sql", "EXPLAIN ANALYZE SELECT count(*) FROM messages"]) == 0
    assert main(["sql", "SELECT count(*) AS n FROM messages", "--format", "csv"]) == 0
    assert "\nn\n" in capsys.readouterr().out
    assert main(["sql", "/* why */ WITH m AS (FROM messages) SELECT count(*) FROM m"]) == 0


def test_show_tables_lists_the_views_not_the_internal_relations(workspace):
    conn = connect(workspace / "audit.duckdb", Settings())
    try:
        names = {row[0] for row in conn.execute("SHOW TABLES").fetchall()}
        columns = {row[0] for row in conn.execute("DESCRIBE messages").fetchall()}
        raw = {row[0] for row in conn.execute("DESCRIBE contents").fetchall()}
    finally:
        conn.close()
    assert {"messages", "contents", "ledger", "threads"} <= names
    assert [name for name in names if name.startswith("_")] == [], names
    assert {"author_name", "agent_name", "direction"} <= columns
    assert not {"author_display_name", "creator_name", "content_direction"} & columns
    assert {"author_display_name", "creator_name", "content_direction"} <= raw


def test_statement_check_parses_without_fetching_extensions(workspace):
    """Parsing a statement that names an extension must not try to download it."""
    conn = connect(workspace / "audit.duckdb", Settings())
    try:
        with pytest.raises(QueryRefused) as refused:
            check_query(conn, "PRAGMA create_fts_index('messages', 'id', 'body')")
    finally:
        conn.close()
    assert "install" not in str(refused.value).lower()
    # DuckDB's default connection too (rc-archive sql's first check parses there).
    settings = duckdb.default_connection().execute(
        "SELECT current_setting('autoinstall_known_extensions'), "
        "current_setting('autoload_known_extensions')"
    )
    assert settings.fetchone() == (False, False)


def test_one_refused_line_never_echoes_a_path_outside(cli_env, capsys):
    assert main(["sql", "SELECT * FROM read_text('/etc/hostname')"]) == 2
    err = capsys.readouterr().err
    hostname = Path("/etc/hostname").read_text().strip() if os.path.exists("/etc/hostname") else ""
    assert not hostname or hostname not in err.replace("/etc/hostname", "")
