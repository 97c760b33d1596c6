"""An archive written by release 0.1.0 (tests/archive/data/archive_0_1_0, made with that
release's own code) stays readable: its manifests, files and cursors load, verify is clean, the
catalog builds, and new commits and checkpoints continue its chains."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from pipelines.archive.compaction import compact_month
from pipelines.archive.keys import ACCOUNT_STREAM
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.settings import Settings
from pipelines.sync.cursors import AgentsCursor, ContentsCursor, IdentitiesCursor
from schemas.quarantine import QuarantineBuilder
from tests.archive.support import SOURCE_ID, STREAM, make_records, normalised_batch

RELEASE_ARCHIVE = Path(__file__).parent / "data" / "archive_0_1_0"
NOW = datetime(2024, 3, 5, tzinfo=UTC)


def _copy(tmp_path: Path) -> LocalStore:
    target = tmp_path / "archive"
    shutil.copytree(RELEASE_ARCHIVE, target)
    return LocalStore(target)


def test_an_archive_of_release_0_1_0_reads_verifies_and_catalogs(tmp_path):
    store = _copy(tmp_path)
    assert verify(store).findings == []
    ledger = Ledger(store)
    contents = ContentsCursor.from_dict(ledger.head("contents", STREAM).cursor)
    assert (contents.page_token, contents.high_water_time) == ("tok2", "2024-02-21T00:00:02.000Z")
    identities = IdentitiesCursor.from_dict(ledger.head("identities", STREAM).cursor)
    # The old spelling (seconds, +00:00) reads back in the one spelling.
    assert identities.last_bulk_refresh == "2024-02-22T10:00:00.000Z"
    assert identities.contents_seq == 2 and identities.not_found == ("a", "b")
    agents = AgentsCursor.from_dict(ledger.head("agents", STREAM).cursor)
    assert agents.read_up_to == {"contents": 2, "identities": 0}

    report = build_catalog(store, tmp_path / "audit.duckdb", Settings())
    assert report.rows_per_table["contents"] == 15
    conn = connect(tmp_path / "audit.duckdb", Settings.from_env({"ARCHIVE_URI": str(store.root)}))
    try:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 15
        assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == 1
    finally:
        conn.close()


def test_new_commits_and_checkpoints_continue_a_release_0_1_0_chain(tmp_path):
    store = _copy(tmp_path)
    ledger = Ledger(store)
    batch = normalised_batch(make_records(5, 100))
    manifest = ledger.commit_batch(
        "contents",
        STREAM,
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor=ContentsCursor(high_water_time="2024-02-21T00:00:03.000Z").to_dict(),
        run_id="run-new",
    )
    assert manifest.seq == 3
    assert ledger.write_checkpoint("contents", STREAM).seq == 3
    assert verify(store).findings == []
    assert len(Ledger(store).archived_versions("contents", STREAM)) == 20


def test_cursors_keep_keys_a_newer_release_wrote_and_compare_by_their_fields():
    raw = {"page_token": "t", "sweep_mark": "2026-01-02T03:04:05Z", "future_key": [1, 2]}
    cursor = ContentsCursor.from_dict(raw)
    assert cursor.sweep_mark == "2026-01-02T03:04:05.000Z"
    assert cursor.to_dict() == {
        "page_token": "t",
        "sweep_mark": "2026-01-02T03:04:05.000Z",
        "future_key": [1, 2],
        "version": 1,
    }
    assert ContentsCursor.from_dict(cursor.to_dict()) == cursor
    assert IdentitiesCursor().but(last_bulk_refresh="2026-01-02T03:04:05+00:00") == (
        IdentitiesCursor(last_bulk_refresh="2026-01-02T03:04:05.000Z")
    )


def test_layout_1_files_stay_and_new_files_take_layout_2(tmp_path):
    """Objects are write-once: the release's files keep their layout-1 keys; new batches and a
    compaction of a month holding both write layout 2, and the catalog, verify and a raw hive
    reader that skips layout-1 folders (docs/internals.md) read the result."""
    store = _copy(tmp_path)
    ledger = Ledger(store)
    old_keys = {e.key for e in ledger.committed_files("contents", STREAM)}
    assert all(k.startswith(f"contents/{STREAM}/creation_date=") for k in old_keys)
    batch = normalised_batch(make_records(6, 100))
    manifest = ledger.commit_batch(
        "contents", STREAM, {"contents": batch.table}, cursor={}, run_id="run-new"
    )
    assert all(f.key.startswith(f"contents/source={SOURCE_ID}/period=") for f in manifest.files)
    assert verify(store).findings == []
    new_only = ds.dataset(
        store.root / "contents", partitioning="hive", ignore_prefixes=[".", "_", "source_id="]
    ).to_table()
    assert new_only.num_rows == 6 and set(new_only.column("source").to_pylist()) == {SOURCE_ID}

    result = compact_month(Ledger(store), SOURCE_ID, "2024-02", "compact-1", now=NOW)
    assert result.inputs == len(old_keys) + len(manifest.files)
    assert result.manifest.files[0].key.startswith(f"contents/source={SOURCE_ID}/period=2024-02/")
    assert verify(store).findings == []
    assert old_keys <= set(store.list("contents/"))  # the inputs stay stored
    report = build_catalog(store, tmp_path / "audit.duckdb", Settings())
    assert report.rows_per_table["contents"] == 15 + 6


def test_quarantine_folders_of_sources_and_of_the_account_read_as_one_hive_table(tmp_path):
    store = LocalStore(tmp_path / "archive")
    ledger = Ledger(store)
    batch = normalised_batch([*make_records(2), {"id": "no-creation-time"}])
    ledger.commit_batch(
        "contents", STREAM, {"contents": batch.table, "quarantine": batch.quarantine}, {}, "r1"
    )
    account = QuarantineBuilder(
        table_name="agents", source_id=None, run_id="r2", batch_id="", quarantined_at=NOW
    )
    account.add({"id": 7}, ["not an extension"])
    ledger.commit_batch("agents", ACCOUNT_STREAM, {"quarantine": account.to_table()}, {}, "r2")
    assert verify(store).findings == []
    frame = pd.read_parquet(store.root / "quarantine")
    assert sorted(zip(frame["source"].astype(str), frame["source_id"].fillna(""), strict=True)) == [
        ("65c3fdd9527bf900079cefcb", SOURCE_ID),
        ("account", ""),
    ]
