"""Iceberg tables of the committed state (pipelines/tables, docs/tables.md)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import UTC, datetime

import pytest

from pipelines.archive import keys
from pipelines.archive.compaction import compact_month
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.settings import Settings
from pipelines.tables import (
    NAMESPACE,
    OtherArchiveTableError,
    check_tables,
    open_catalog,
    rebuild_tables,
    refresh_tables,
    tables_config,
)
from schemas.tables import TABLES
from tests.archive.support import SOURCE_ID, STREAM, FailingStore, commit_records
from tests.iceberg.support import assert_tables_match, committed, iceberg_duckdb, iceberg_rows

NOW = datetime(2024, 4, 2, tzinfo=UTC)


@pytest.fixture
def archive(tmp_path):
    store = LocalStore(tmp_path / "archive")
    config = tables_config(store, tmp_path / "audit.duckdb", Settings())
    return store, Ledger(store), config


def iceberg_paths(config, table: str) -> set[str]:
    iceberg = open_catalog(config).load_table((NAMESPACE, table))
    return {task.file.file_path for task in iceberg.scan().plan_files()}


def test_scan_equals_committed_rows_and_refresh_reads_only_new_manifests(archive):
    store, ledger, config = archive
    commit_records(ledger, 0, 30)
    commit_records(ledger, 30, 20)
    results = {r.table: r for r in refresh_tables(store, config)}
    assert results["contents"].added == 4  # two batches, two days each
    assert_tables_match(store, config)
    assert sum(iceberg_rows(config, "contents").values()) == 50

    again = {r.table: r for r in refresh_tables(store, config)}
    assert again["contents"].manifests == 0
    assert again["contents"].snapshot_id == results["contents"].snapshot_id

    commit_records(ledger, 50, 10)
    later = {r.table: r for r in refresh_tables(store, config)}
    assert later["contents"].manifests == 1 and later["contents"].added == 2
    assert_tables_match(store, config)
    iceberg = open_catalog(config).load_table((NAMESPACE, "contents"))
    assert iceberg.properties[f"rc-archive.applied-seq.contents.{STREAM}"] == "2"


def test_crash_leftover_is_not_in_the_table(archive):
    store, ledger, config = archive
    commit_records(ledger, 0, 20)
    crashing = FailingStore(
        store, fail_on=lambda key: keys.MANIFEST_NAME.match(key.rsplit("/", 1)[1]) is not None
    )
    with pytest.raises(OSError, match="injected"):
        commit_records(Ledger(crashing), 20, 20)
    on_disk = {store.uri_for(k) for k in store.list("contents/")}
    committed_paths = {store.uri_for(e.key) for e in Ledger(store).committed_files("contents")}
    leftovers = on_disk - committed_paths
    assert leftovers  # the failed batch's day files are there, uncommitted
    refresh_tables(store, config)
    assert iceberg_paths(config, "contents") == committed_paths
    assert_tables_match(store, config)


def test_compaction_replaces_inputs_with_output(archive):
    store, ledger, config = archive
    for i in range(3):
        commit_records(ledger, i * 10, 10)
    refresh_tables(store, config)
    inputs = {store.uri_for(e.key) for e in ledger.committed_files("contents")}
    assert len(inputs) == 6
    result = compact_month(Ledger(store), SOURCE_ID, "2024-02", "compact-1", now=NOW)
    assert result.manifest is not None
    refreshed = {r.table: r for r in refresh_tables(store, config)}
    assert refreshed["contents"].removed == 6 and refreshed["contents"].added == 1
    assert iceberg_paths(config, "contents") == {store.uri_for(result.manifest.files[0].key)}
    rows = iceberg_rows(config, "contents")
    assert sum(rows.values()) == 30 and max(rows.values()) == 1  # no duplicates
    assert_tables_match(store, config)
    # The Iceberg metadata beside the data is derived, not a stranger to verify.
    from pipelines.archive.verify import verify

    report = verify(store)
    assert report.ok and not report.findings, report.summary()


def test_first_build_after_compaction_and_rebuild(archive, tmp_path):
    store, ledger, config = archive
    for i in range(3):
        commit_records(ledger, i * 10, 10)
    compact_month(ledger, SOURCE_ID, "2024-02", "compact-1", now=NOW)
    commit_records(ledger, 30, 10)
    refresh_tables(store, config)
    assert_tables_match(store, config)
    # A lost catalog is rebuilt from the ledger.
    os.remove(tmp_path / "audit.iceberg.db")
    rebuild_tables(store, config)
    assert_tables_match(store, config)
    rebuild_tables(store, config)  # over an existing catalog too
    assert_tables_match(store, config)


def test_a_catalog_kept_while_the_archive_was_replaced_is_built_again(tmp_path, caplog):
    """A fresh archive at the same place, the old catalog beside it (what `make demo` met after
    the archive folder alone was removed): the stale entries are rebuilt from the ledger."""
    first = LocalStore(tmp_path / "archive")
    config = tables_config(first, tmp_path / "audit.duckdb", Settings())
    commit_records(Ledger(first), 0, 10)
    refresh_tables(first, config)
    shutil.rmtree(tmp_path / "archive", onerror=lambda f, p, e: (os.chmod(p, 0o700), f(p)))
    fresh = LocalStore(tmp_path / "archive")
    commit_records(Ledger(fresh), 100, 6)
    refresh_tables(fresh, config)
    assert "no longer exists" in caplog.text
    assert_tables_match(fresh, config)
    assert sum(iceberg_rows(config, "contents").values()) == 6


def test_a_catalog_of_another_archive_is_refused_with_the_way_out(tmp_path):
    config = tables_config(LocalStore(tmp_path / "a"), tmp_path / "audit.duckdb", Settings())
    other = LocalStore(tmp_path / "b")
    commit_records(Ledger(LocalStore(tmp_path / "a")), 0, 4)
    refresh_tables(LocalStore(tmp_path / "a"), config)
    commit_records(Ledger(other), 0, 6)
    misplaced = tables_config(other, tmp_path / "audit.duckdb", Settings())
    with pytest.raises(OtherArchiveTableError, match="belongs to another archive"):
        refresh_tables(other, misplaced)
    rebuild_tables(other, misplaced)
    assert_tables_match(other, misplaced)


def test_duckdb_iceberg_scan_reads_the_committed_rows(archive):
    store, ledger, config = archive
    for i in range(3):
        commit_records(ledger, i * 10, 10)
    refresh_tables(store, config)
    compact_month(Ledger(store), SOURCE_ID, "2024-02", "compact-1", now=NOW)
    commit_records(ledger, 30, 5)
    results = {r.table: r for r in refresh_tables(store, config)}
    conn = iceberg_duckdb()
    location = results["contents"].metadata_location
    hashes = conn.execute(
        "SELECT record_sha256, creation_time FROM iceberg_scan(?)", [location]
    ).fetchall()
    assert Counter(h for h, _ in hashes) == committed(Ledger(store), "contents")
    assert all(t.tzinfo is not None for _, t in hashes)


def _catalogued_and_refreshed(archive, tmp_path, rows: int):
    """`rows` records committed, the audit catalog built and the Iceberg tables refreshed."""
    from pipelines.catalog.build import build_catalog

    store, ledger, config = archive
    commit_records(ledger, 0, rows)
    audit_db = tmp_path / "audit.duckdb"
    build_catalog(store, audit_db, Settings())
    refresh_tables(store, config)
    return audit_db


def test_check_compares_with_the_audit_catalog(archive, tmp_path):
    store, ledger, config = archive
    audit_db = _catalogued_and_refreshed(archive, tmp_path, rows=20)
    checks = check_tables(config, audit_db, Settings(), store)
    assert [c.table for c in checks] == list(TABLES)
    assert {c.compared_with for c in checks} == {"audit view"}  # attachments has a view now
    assert all(c.ok for c in checks), checks
    commit_records(ledger, 20, 5)
    refresh_tables(store, config)  # the audit catalog is now behind
    contents = {c.table: c for c in check_tables(config, audit_db, Settings())}["contents"]
    assert not contents.ok and contents.extra == 5 and contents.missing == 0


def test_cli_tables_prints_how_to_read_and_checks(archive, tmp_path, monkeypatch, capsys):
    from cli.main import main
    from pipelines.catalog.build import build_catalog

    store, ledger, _ = archive
    commit_records(ledger, 0, 10)
    audit_db = tmp_path / "audit.duckdb"
    build_catalog(store, audit_db, Settings())
    monkeypatch.setenv("ARCHIVE_URI", str(tmp_path / "archive"))
    monkeypatch.setenv("AUDIT_DB", str(audit_db))
    monkeypatch.delenv("ARCHIVE_ICEBERG_CATALOG_URI", raising=False)
    assert main(["tables"]) == 0
    out = capsys.readouterr().out
    assert "rc_archive.contents" in out and "iceberg_scan(" in out and "load_catalog(" in out
    assert main(["tables", "--check"]) == 0
    assert "contents: ok" in capsys.readouterr().out
    commit_records(ledger, 10, 3)
    assert main(["tables", "--check"]) == 1  # the audit views are behind now
    assert "contents: DIFFERS" in capsys.readouterr().out
    assert main(["tables", "--rebuild"]) == 0
    build_catalog(store, audit_db, Settings())
    assert main(["tables", "--check"]) == 0


def test_row_counts_agree_after_a_refresh_and_differ_when_one_side_is_behind(archive, tmp_path):
    from pipelines.catalog.build import build_catalog
    from pipelines.tables.iceberg import row_counts

    store, ledger, config = archive
    audit_db = _catalogued_and_refreshed(archive, tmp_path, rows=20)
    counts = row_counts(config, audit_db)
    assert counts["contents"] == (20, 20) and all(a == b for a, b in counts.values())
    commit_records(ledger, 20, 5)
    build_catalog(store, audit_db, Settings())  # the views moved on, the tables did not
    assert row_counts(config, audit_db)["contents"] == (20, 25)


def test_data_files_equal_pyicebergs_own_for_every_file(archive):
    """The refresh registers files with the schema check done once per distinct schema: each
    DataFile is still exactly what pyiceberg's parquet_file_to_data_file makes of the file."""
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    from pipelines.catalog.archive_root import archive_root_uri
    from pipelines.tables.iceberg import data_files

    store, ledger, config = archive
    for start in range(0, 60, 20):
        commit_records(ledger, start, 20, days=3)
    refresh_tables(store, config)
    iceberg = open_catalog(config).load_table((NAMESPACE, "contents"))
    root = archive_root_uri(store).rstrip("/")
    paths = [f"{root}/{entry.key}" for entry in ledger.committed_files("contents")]
    assert len(paths) >= 6
    expected = [parquet_file_to_data_file(iceberg.io, iceberg.metadata, p) for p in paths]
    assert data_files(iceberg.io, iceberg.metadata, paths) == expected
