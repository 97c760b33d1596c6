"""Fixtures of the governance tests: the audit tests' dataset in a fresh archive per test
(the trail and holds write into it), with its catalog, and the CLI pointed at both."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.settings import Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import make_dataset, write_dataset


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "archive"
    write_dataset(ArchiveBuilder(str(root)), make_dataset())
    build_catalog(root, tmp_path / "audit.duckdb", Settings())
    monkeypatch.setenv("ARCHIVE_URI", str(root))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    monkeypatch.setenv("RC_ARCHIVE_USER", "alice@example.com")
    return root


def catalog_rows(audit_db: str | Path, sql: str, env=None) -> list[tuple]:
    conn = connect(audit_db, Settings.from_env(env or {}))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def s3_archive(s3_server, s3_bucket, tmp_path, monkeypatch):
    uri = f"s3://{s3_bucket}/arc"
    env = dict(s3_server.env)
    builder = ArchiveBuilder(uri, env)
    write_dataset(builder, make_dataset())
    catalog_for_the_cli(uri, env, tmp_path, monkeypatch)
    return s3_bucket, builder.store


def catalog_for_the_cli(uri: str, env: dict, tmp_path, monkeypatch) -> Path:
    """Build the archive's catalog and point the command line at both, as counsel."""
    audit_db = tmp_path / "audit.duckdb"
    build_catalog(uri, audit_db, Settings.from_env(env | {"ARCHIVE_URI": uri}))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ARCHIVE_URI", uri)
    monkeypatch.setenv("AUDIT_DB", str(audit_db))
    monkeypatch.setenv("RC_ARCHIVE_USER", "counsel@example.com")
    return audit_db
