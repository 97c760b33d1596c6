"""The Iceberg tables on the S3 server (an Object Lock bucket): refreshed after commits, a
crash's leftovers, a compaction and a disposition, and read by pyiceberg and by DuckDB's
iceberg extension over S3, each matching the committed rows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from pipelines.archive import keys
from pipelines.archive.compaction import compact_month
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.catalog.connection import configure_s3
from pipelines.governance.disposition import execute_disposition
from pipelines.governance.retention import parse_retention
from pipelines.settings import Settings
from pipelines.tables import refresh_tables, tables_config
from tests.archive.support import SOURCE_ID, FailingStore, commit_records
from tests.iceberg.support import assert_tables_match, committed, iceberg_duckdb


def test_tables_on_s3_follow_crashes_compaction_and_disposition(s3_server, s3_bucket, tmp_path):
    settings = Settings.from_env(dict(s3_server.env))
    store = open_store(f"s3://{s3_bucket}/arc", settings)
    ledger = Ledger(store)
    config = tables_config(store, tmp_path / "audit.duckdb", settings)
    for start in (0, 10, 20):
        commit_records(ledger, start, 10)
    crashing = FailingStore(
        store, fail_on=lambda key: keys.MANIFEST_NAME.match(key.rsplit("/", 1)[1]) is not None
    )
    with pytest.raises(OSError, match="injected"):  # its day files stay, uncommitted
        commit_records(Ledger(crashing), 30, 10)
    refresh_tables(store, config)
    assert_tables_match(store, config)

    compact_month(
        Ledger(store), SOURCE_ID, "2024-02", "compact-1", now=datetime(2024, 3, 2, tzinfo=UTC)
    )
    commit_records(Ledger(store), 40, 5)
    results = {r.table: r for r in refresh_tables(store, config)}
    assert_tables_match(store, config)

    conn = iceberg_duckdb()
    configure_s3(conn, settings.s3, settings.network)
    scanned = conn.execute(
        "SELECT record_sha256 FROM iceberg_scan(?)", [results["contents"].metadata_location]
    ).fetchall()
    assert Counter(h for (h,) in scanned) == committed(Ledger(store), "contents")

    outcomes = execute_disposition(
        Ledger(store),
        parse_retention({"default_years": 1}),
        datetime(2026, 1, 1, tzinfo=UTC),
        {},
        reason="schedule",
        settings=settings,
        run_id="disposition-1",
    )
    assert {o.result for o in outcomes} == {"deleted"}
    refreshed = {r.table: r for r in refresh_tables(store, config)}
    assert refreshed["contents"].removed >= 1
    assert_tables_match(store, config)
    assert sum(committed(Ledger(store), "contents").values()) == 0


def test_table_metadata_on_a_compliance_bucket_is_locked_like_the_archive(
    s3_server, s3_bucket, tmp_path
):
    env = dict(s3_server.env) | {
        "ARCHIVE_OBJECT_LOCK_MODE": "COMPLIANCE",
        "ARCHIVE_RETENTION_DAYS": "1",
    }
    store = open_store(f"s3://{s3_bucket}/arc", Settings.from_env(env))
    commit_records(Ledger(store), 0, 10)
    config = tables_config(store, tmp_path / "audit.duckdb", Settings.from_env(env))
    refresh_tables(store, config)
    assert_tables_match(store, config)
    client = s3_server.client()
    metadata = [k for k in store.list("_iceberg/")]
    assert metadata  # metadata JSON, manifest lists, manifests
    for key in metadata:
        head = client.head_object(Bucket=s3_bucket, Key=f"arc/{key}")
        assert head.get("ObjectLockMode") == "COMPLIANCE", key


def test_tables_in_the_glue_data_catalog(s3_server, s3_bucket, tmp_path):
    """ARCHIVE_ICEBERG_CATALOG_URI=glue:// keeps the catalog pointer in AWS Glue (here the S3
    server's Glue API), reached with the same region, endpoint and keys as S3."""
    env = dict(s3_server.env) | {"ARCHIVE_ICEBERG_CATALOG_URI": "glue://"}
    store = open_store(f"s3://{s3_bucket}/arc", Settings.from_env(env))
    commit_records(Ledger(store), 0, 10)
    config = tables_config(store, tmp_path / "audit.duckdb", Settings.from_env(env))
    assert config.catalog_type == "glue"
    results = {r.table: r for r in refresh_tables(store, config)}
    assert_tables_match(store, config)
    assert results["contents"].metadata_location.startswith(f"s3://{s3_bucket}/arc/_iceberg/")
    commit_records(Ledger(store), 10, 5)
    assert {r.table: r for r in refresh_tables(store, config)}["contents"].manifests == 1
    assert_tables_match(store, config)
