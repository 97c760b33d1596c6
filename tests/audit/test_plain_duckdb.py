"""Plain DuckDB works: any DuckDB client that opens `audit.duckdb` read-only, from any working
directory, reads every view; after a move, the one statement `rc-archive catalog` prints points
it at the new place; over S3, the printed setup statements (secret filled in) are all it needs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from cli.main import main
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect, move_statement, plain_client_help
from pipelines.settings import S3Access, Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import S1, write_dataset
from tests.fixtures.s3 import SECRET_KEY

# A filtered scan: its plan shows the filters DuckDB pushes into read_parquet.
FILTERED = (
    f"SELECT count(*) FROM contents WHERE source_id = '{S1}' AND creation_date >= DATE '2026-01-01'"
)


def _views(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Every view the catalog holds, the internal ones that read the files included."""
    rows = conn.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal "
        "ORDER BY schema_name, view_name"
    ).fetchall()
    return [f'"{schema}"."{view}"' for schema, view in rows]


def _counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {
        view: conn.execute(f"SELECT count(*) FROM {view}").fetchone()[0] for view in _views(conn)
    }


def _rc_archive_counts(audit_db: str | Path, env: dict[str, str] | None = None) -> dict[str, int]:
    conn = connect(audit_db, Settings.from_env(env or {}))
    try:
        return _counts(conn)
    finally:
        conn.close()


def _plain(audit_db: str | Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(audit_db), read_only=True)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An unrelated working directory: nothing of the archive is reachable relative to it."""
    cwd = tmp_path / "somewhere-else"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_plain_client_reads_every_view_from_any_directory(local_catalog, local_archive, elsewhere):
    expected = _rc_archive_counts(local_catalog.audit_db)
    assert '"main"."contents"' in expected and '"internal"."_src_contents"' in expected
    assert expected['"main"."contents"'] > 0

    conn = _plain(local_catalog.audit_db)
    try:
        assert conn.execute("SELECT getvariable('rc_archive_root')").fetchone() == (None,)
        assert conn.execute("SELECT rc_archive_root()").fetchone() == (f"{local_archive}/",)
        assert _counts(conn) == expected
    finally:
        conn.close()


def test_plain_client_gets_the_same_plan_as_rc_archive(local_catalog, elsewhere):
    """The persisted macro folds to a constant list of files when the view binds: the plain
    client's plan, filters pushed into the Parquet scan included, is rc-archive's own."""
    own = connect(local_catalog.audit_db, Settings())
    try:
        own_plan = own.execute(f"EXPLAIN {FILTERED}").fetchall()
    finally:
        own.close()
    conn = _plain(local_catalog.audit_db)
    try:
        plan = conn.execute(f"EXPLAIN {FILTERED}").fetchall()
    finally:
        conn.close()
    assert plan == own_plan
    text = plan[0][1]
    assert "READ_PARQUET" in text and "Filters:" in text and "source_id=" in text


def test_after_a_move_the_printed_statement_points_a_plain_client_at_the_new_place(
    local_archive, tmp_path, monkeypatch, capsys
):
    original = tmp_path / "original"
    shutil.copytree(local_archive, original / "archive")
    monkeypatch.setenv("ARCHIVE_URI", str(original / "archive"))
    monkeypatch.setenv("AUDIT_DB", str(original / "audit.duckdb"))
    assert main(["catalog"]) == 0
    printed = capsys.readouterr().out
    assert f"duckdb -readonly {original / 'audit.duckdb'}" in printed
    assert f"  SET VARIABLE rc_archive_root = '{original / 'archive'}/';\n" in printed
    expected = _rc_archive_counts(original / "audit.duckdb")

    moved = tmp_path / "moved"
    shutil.copytree(original, moved)
    shutil.rmtree(original)
    monkeypatch.chdir(tmp_path)

    conn = _plain(moved / "audit.duckdb")
    try:
        old_root = re.escape(f"{original / 'archive'}/")
        with pytest.raises(duckdb.IOException, match=f"No files found .*{old_root}"):
            conn.execute("SELECT count(*) FROM contents").fetchone()
        # The one statement, as printed but naming the new place.
        statement = move_statement(str(moved / "archive"))
        assert statement == f"SET VARIABLE rc_archive_root = '{moved / 'archive'}/';"
        conn.execute(statement)
        assert _counts(conn) == expected
        # Written without the trailing slash it reads the same.
        conn.execute(f"SET VARIABLE rc_archive_root = '{moved / 'archive'}'")
        assert conn.execute("SELECT rc_archive_root()").fetchone() == (f"{moved / 'archive'}/",)
        assert _counts(conn) == expected
    finally:
        conn.close()
    # rc-archive itself finds the archive moved together with its catalog, statement or not.
    assert _rc_archive_counts(moved / "audit.duckdb") == expected


def test_the_variable_wins_over_the_recorded_root(local_catalog, tmp_path, elsewhere):
    conn = _plain(local_catalog.audit_db)
    try:
        conn.execute(move_statement(str(tmp_path / "not-an-archive")))
        with pytest.raises(duckdb.IOException, match="not-an-archive/"):
            conn.execute("SELECT count(*) FROM contents").fetchone()
    finally:
        conn.close()


@pytest.mark.s3
def test_plain_client_reads_an_s3_archive_with_the_printed_setup(
    s3_server, s3_bucket, dataset, tmp_path, elsewhere
):
    env = dict(s3_server.env)
    uri = f"s3://{s3_bucket}/archive"
    write_dataset(ArchiveBuilder(uri, env), dataset)
    report = build_catalog(uri, tmp_path / "audit.duckdb", Settings.from_env(env))
    expected = _rc_archive_counts(report.audit_db, env)
    assert expected['"main"."contents"'] > 0

    help_lines = plain_client_help(report.audit_db, uri, S3Access.from_env(env))
    assert SECRET_KEY not in "\n".join(help_lines)
    setup = help_lines[help_lines.index(next(line for line in help_lines if "on S3" in line)) + 1]
    assert "<AWS_SECRET_ACCESS_KEY>" in setup
    assert help_lines[-1] == f"  SET VARIABLE rc_archive_root = '{uri}/';"

    conn = _plain(report.audit_db)
    try:
        conn.execute(setup.strip().replace("<AWS_SECRET_ACCESS_KEY>", SECRET_KEY))
        assert conn.execute("SELECT rc_archive_root()").fetchone() == (f"{uri}/",)
        assert _counts(conn) == expected
    finally:
        conn.close()

    # Moved to another prefix (a replica; the original gone): the same one statement.
    client = s3_server.client()
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=s3_bucket, Prefix="archive/"
        )
        for item in page.get("Contents", [])
    ]
    for key in keys:
        client.copy_object(
            Bucket=s3_bucket,
            Key="replica/" + key.removeprefix("archive/"),
            CopySource={"Bucket": s3_bucket, "Key": key},
        )
        client.delete_object(Bucket=s3_bucket, Key=key)
    replica = f"s3://{s3_bucket}/replica"
    conn = _plain(report.audit_db)
    try:
        conn.execute(setup.strip().replace("<AWS_SECRET_ACCESS_KEY>", SECRET_KEY))
        with pytest.raises(duckdb.IOException, match=re.escape(f"{uri}/")):
            conn.execute("SELECT count(*) FROM contents").fetchone()
        conn.execute(move_statement(replica))
        assert _counts(conn) == expected
    finally:
        conn.close()
