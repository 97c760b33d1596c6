"""The audit catalog follows its archive: views hold keys relative to the archive root."""

from __future__ import annotations

import shutil

import pytest

from cli.main import main
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import CatalogArchiveMissing, connect
from pipelines.settings import Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import write_dataset

COUNT = "SELECT count(*) FROM messages"


@pytest.fixture
def built(tmp_path, dataset):
    original = tmp_path / "original"
    write_dataset(ArchiveBuilder(str(original / "archive")), dataset)
    build_catalog(original / "archive", original / "audit.duckdb", Settings())
    conn = connect(original / "audit.duckdb", Settings())
    try:
        expected = conn.execute(COUNT).fetchone()
    finally:
        conn.close()
    return original, expected


def test_a_moved_archive_and_catalog_read_the_new_place(built, tmp_path):
    original, expected = built
    moved = tmp_path / "moved"
    shutil.copytree(original, moved)
    shutil.rmtree(original)
    conn = connect(moved / "audit.duckdb", Settings())
    try:
        assert conn.execute(COUNT).fetchone() == expected
        root = conn.execute("SELECT getvariable('rc_archive_root')").fetchone()[0]
        assert root == f"{moved / 'archive'}/"
    finally:
        conn.close()


def test_a_copy_reads_the_copy_not_the_original(built, tmp_path):
    original, expected = built
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    # Break the original: were the copy reading it, the count would fail.
    for parquet in (original / "archive" / "contents").rglob("*.parquet"):
        parquet.unlink()
    conn = connect(copy / "audit.duckdb", Settings())
    try:
        assert conn.execute(COUNT).fetchone() == expected
        root = conn.execute("SELECT getvariable('rc_archive_root')").fetchone()[0]
        assert root == f"{copy / 'archive'}/"
    finally:
        conn.close()


def test_archive_uri_wins_over_the_record(built, tmp_path):
    original, expected = built
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(original / "archive", elsewhere)
    conn = connect(original / "audit.duckdb", Settings.from_env({"ARCHIVE_URI": str(elsewhere)}))
    try:
        assert conn.execute(COUNT).fetchone() == expected
    finally:
        conn.close()


def test_missing_archive_is_one_line_naming_rc_archive_catalog(built, capsys, monkeypatch):
    original, _ = built
    shutil.rmtree(original / "archive")
    with pytest.raises(CatalogArchiveMissing, match="rc-archive catalog"):
        connect(original / "audit.duckdb", Settings())
    monkeypatch.delenv("ARCHIVE_URI", raising=False)
    monkeypatch.setenv("AUDIT_DB", str(original / "audit.duckdb"))
    assert main(["sql", COUNT]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rc-archive catalog" in err, err
