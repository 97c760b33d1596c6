"""The audit catalog refresh reads only what was committed since the last build, and gives the
same views as a build from scratch (after new batches and after compactions)."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.archive.compaction import compact_month
from pipelines.archive.counting import CountingStore
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.query.sources_status import sources_overview
from pipelines.settings import Settings
from tests.archive.support import SOURCE_ID, commit_records


def _commit(ledger: Ledger, start: int, n: int = 10) -> None:
    commit_records(ledger, start, n, days=40)


def _view_counts(audit_db, archive) -> tuple:
    conn = connect(audit_db, Settings.from_env({"ARCHIVE_URI": str(archive)}))
    try:
        return conn.execute(
            "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM contents), "
            "(SELECT count(*) FROM ledger), (SELECT count(DISTINCT thread_id) FROM threads)"
        ).fetchone()
    finally:
        conn.close()


def test_refresh_reads_only_the_new_manifests_and_matches_a_full_build(tmp_path):
    archive = tmp_path / "archive"
    store = LocalStore(archive)
    ledger = Ledger(store)
    for i in range(12):
        _commit(ledger, i * 10)
    first = build_catalog(store, tmp_path / "audit.duckdb", Settings())
    assert first.manifests == first.manifests_read == 12

    for i in range(12, 15):
        _commit(ledger, i * 10)
    counting = CountingStore(store)
    refreshed = build_catalog(counting, tmp_path / "audit.duckdb", Settings())
    manifest_gets = [k for k in counting.gets if k.startswith("_ledger/")]
    assert refreshed.manifests_read == 3 and len(manifest_gets) == 3
    assert refreshed.manifests == 15
    # One folder LIST per ledger table and one LIST per stream of it, and one LIST each of the
    # access trail, review decisions and holds with nothing new: not per manifest.
    assert counting.lists <= 3 + 1 + 3

    scratch = build_catalog(store, tmp_path / "scratch.duckdb", Settings())
    assert scratch.manifests_read == 15
    assert _view_counts(tmp_path / "audit.duckdb", archive) == _view_counts(
        tmp_path / "scratch.duckdb", archive
    )
    assert refreshed.rows_per_table == scratch.rows_per_table


def test_refresh_after_compaction_reads_the_compacted_files_only(tmp_path):
    archive = tmp_path / "archive"
    store = LocalStore(archive)
    ledger = Ledger(store)
    for i in range(6):
        _commit(ledger, i * 10)
    before = build_catalog(store, tmp_path / "audit.duckdb", Settings())
    counts_before = _view_counts(tmp_path / "audit.duckdb", archive)
    compact_month(ledger, SOURCE_ID, "2024-02", "compact", now=datetime(2026, 1, 1, tzinfo=UTC))
    after = build_catalog(store, tmp_path / "audit.duckdb", Settings())
    assert after.manifests_read == 1
    assert after.files_per_table["contents"] < before.files_per_table["contents"]
    assert after.rows_per_table["contents"] == before.rows_per_table["contents"] == 60
    messages, contents, ledger_rows, threads = _view_counts(tmp_path / "audit.duckdb", archive)
    assert (messages, contents, threads) == (
        counts_before[0],
        counts_before[1],
        counts_before[3],
    )
    assert ledger_rows == counts_before[2] + 1  # the compaction is in the ledger view
    conn = connect(tmp_path / "audit.duckdb", Settings.from_env({"ARCHIVE_URI": str(archive)}))
    try:
        kinds = conn.execute("SELECT kind, count(*) FROM ledger GROUP BY 1 ORDER BY 1").fetchall()
        last_commit = conn.execute("SELECT last_committed_at FROM capture_lag").fetchone()[0]
        newest_batch = conn.execute(
            "SELECT max(committed_at) FROM ledger WHERE kind = 'batch'"
        ).fetchone()[0]
    finally:
        conn.close()
    assert kinds == [("batch", 6), ("compaction", 1)]
    # A compaction archives nothing new: it does not make the source look fresh.
    assert last_commit == newest_batch
    header, rows = sources_overview(store)
    status = dict(zip(header, rows[0], strict=True))
    assert status["last_committed_at"] == last_commit


def test_a_catalog_of_another_archive_is_rebuilt_not_extended(tmp_path):
    for name, start in (("one", 0), ("two", 500)):
        ledger = Ledger(LocalStore(tmp_path / name))
        _commit(ledger, start)
        _commit(ledger, start + 10)
    build_catalog(tmp_path / "one", tmp_path / "audit.duckdb", Settings())
    report = build_catalog(tmp_path / "two", tmp_path / "audit.duckdb", Settings())
    assert report.manifests == report.manifests_read == 2


def test_behind_ledger_names_the_streams_committed_after_the_build(tmp_path):
    from pipelines.catalog.state import behind_ledger

    store = LocalStore(tmp_path / "archive")
    ledger = Ledger(store)
    commit_records(ledger, 0, 10)
    build_catalog(store, tmp_path / "audit.duckdb", Settings())
    assert behind_ledger(store, tmp_path / "audit.duckdb") == {}
    commit_records(ledger, 10, 5)
    assert behind_ledger(store, tmp_path / "audit.duckdb") == {f"contents/source_id={SOURCE_ID}": 1}
