"""One SQLite catalog per archive (docs/tables.md, "One catalog per archive"): two archives whose
audit DBs share a folder, side by side, and an archive that already uses the former `iceberg.db`
(real local stores, real pyiceberg SQL catalogs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.settings import Settings
from pipelines.tables import CATALOG_URI_ENV, OtherArchiveTableError, refresh_tables, tables_config
from pipelines.tables.iceberg import LEGACY_CATALOG_FILE
from tests.archive.support import commit_records
from tests.iceberg.support import assert_tables_match, iceberg_rows


def _archive(root: Path, records: int) -> LocalStore:
    store = LocalStore(root)
    commit_records(Ledger(store), 0, records)
    return store


def _catalog_file(config) -> Path:
    assert config.catalog_uri.startswith("sqlite:///")
    return Path(config.catalog_uri.removeprefix("sqlite:///"))


def test_two_archives_with_audit_dbs_in_one_folder_refresh_side_by_side(tmp_path):
    shared = tmp_path / "srv"
    shared.mkdir()
    a, b = _archive(tmp_path / "a", 8), _archive(tmp_path / "b", 14)
    config_a = tables_config(a, shared / "a.duckdb", Settings())
    config_b = tables_config(b, shared / "b.duckdb", Settings())
    assert _catalog_file(config_a) == shared / "a.iceberg.db"
    assert _catalog_file(config_b) == shared / "b.iceberg.db"
    for _ in range(2):  # and again, each refresh finding its own tables
        refresh_tables(a, config_a)
        refresh_tables(b, config_b)
    assert_tables_match(a, config_a)
    assert_tables_match(b, config_b)
    assert sum(iceberg_rows(config_a, "contents").values()) == 8
    assert sum(iceberg_rows(config_b, "contents").values()) == 14
    assert not (shared / LEGACY_CATALOG_FILE).exists()


def test_an_archive_already_using_iceberg_db_keeps_it_and_another_gets_its_own(tmp_path):
    """Upgrade: `iceberg.db` beside `audit.duckdb` holds archive A's tables (the former default
    name); A keeps reading it, B beside it gets `b.iceberg.db`, and A's catalog is untouched."""
    shared = tmp_path / "srv"
    shared.mkdir()
    a, b = _archive(tmp_path / "a", 6), _archive(tmp_path / "b", 10)
    legacy = shared / LEGACY_CATALOG_FILE
    former = tables_config(
        a, shared / "audit.duckdb", Settings.from_env({CATALOG_URI_ENV: f"sqlite:///{legacy}"})
    )
    first = {r.table: r for r in refresh_tables(a, former)}  # as the release before built it

    config_a = tables_config(a, shared / "audit.duckdb", Settings())
    assert _catalog_file(config_a) == legacy
    again = {r.table: r for r in refresh_tables(a, config_a)}
    assert again["contents"].manifests == 0  # its position was kept: nothing applied twice
    assert again["contents"].snapshot_id == first["contents"].snapshot_id

    config_b = tables_config(b, shared / "b.duckdb", Settings())
    assert _catalog_file(config_b) == shared / "b.iceberg.db"
    refresh_tables(b, config_b)
    assert_tables_match(a, config_a)
    assert_tables_match(b, config_b)
    assert sum(iceberg_rows(config_a, "contents").values()) == 6

    # The former shared default is what failed: B refreshing into A's catalog is refused.
    with pytest.raises(OtherArchiveTableError, match="another archive"):
        refresh_tables(
            b,
            tables_config(
                b, shared / "b.duckdb", Settings.from_env({CATALOG_URI_ENV: former.catalog_uri})
            ),
        )


def test_a_stranger_iceberg_db_is_no_catalog_and_the_new_name_once_made_wins(tmp_path):
    store = _archive(tmp_path / "a", 4)
    legacy = tmp_path / LEGACY_CATALOG_FILE
    legacy.write_text("not a catalog")
    config = tables_config(store, tmp_path / "audit.duckdb", Settings())
    assert _catalog_file(config) == tmp_path / "audit.iceberg.db"
    refresh_tables(store, config)
    assert_tables_match(store, config)

    # iceberg.db now holds this archive's tables too, but the new name exists: it stays.
    legacy.unlink()
    refresh_tables(
        store,
        tables_config(
            store, tmp_path / "x", Settings.from_env({CATALOG_URI_ENV: f"sqlite:///{legacy}"})
        ),
    )
    config = tables_config(store, tmp_path / "audit.duckdb", Settings())
    assert _catalog_file(config) == tmp_path / "audit.iceberg.db"
