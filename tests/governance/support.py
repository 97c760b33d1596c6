"""Fixtures of the governance tests: the audit tests' dataset in a fresh archive per test
(the trail and holds write into it), with its catalog, and the CLI pointed at both."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.audit.catalog import build_catalog
from pipelines.audit.connection import connect
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import make_dataset, write_dataset


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "archive"
    write_dataset(ArchiveBuilder(str(root)), make_dataset())
    build_catalog(root, tmp_path / "audit.duckdb", {})
    monkeypatch.setenv("ARCHIVE_URI", str(root))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    monkeypatch.setenv("RC_ARCHIVE_USER", "alice@example.com")
    return root


def catalog_rows(audit_db: str | Path, sql: str, env=None) -> list[tuple]:
    conn = connect(audit_db, env or {})
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
