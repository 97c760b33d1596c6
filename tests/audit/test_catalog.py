"""The catalog's views: committed files only, right columns when empty, deduplicated, atomic."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from pipelines.archive.ledger import Ledger
from pipelines.catalog import build as catalog
from pipelines.catalog.build import build_catalog, duckdb_column_types
from pipelines.catalog.connection import connect
from pipelines.catalog.views import PUBLIC_VIEWS
from pipelines.settings import Settings
from schemas.tables import table_schema
from tests.audit import expected
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import ORPHAN_BODY, S1, make_dataset, write_dataset


def test_every_view_exists(conn):
    names = {row[0] for row in conn.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    assert set(PUBLIC_VIEWS) <= names


def test_uncommitted_file_is_never_read(conn, local_archive):
    orphan_files = list(local_archive.glob("contents/**/0000000099-*.parquet"))
    assert orphan_files, "the orphan file must exist for this test to mean anything"
    for view in ("contents", "contents_latest", "messages", "edits"):
        bodies = conn.execute(f"SELECT count(*) FROM {view} WHERE id = 'c-orphan'").fetchone()
        assert bodies == (0,), view
    hits = conn.execute("SELECT count(*) FROM contents WHERE body = ?", [ORPHAN_BODY]).fetchone()
    assert hits == (0,)


def test_contents_holds_each_version_once(conn, dataset):
    got = sorted(conn.execute("SELECT id, record_sha256 FROM contents").fetchall())
    want = sorted((r["id"], r["record_sha256"]) for r in expected.versions(dataset))
    assert got == want


def test_contents_latest_and_messages_enrichment(conn, dataset):
    latest = expected.latest(dataset)
    rows = conn.execute(
        "SELECT id, record_sha256, author_name, agent_name, agent_email FROM messages"
    ).fetchall()
    assert {r[0]: r[1] for r in rows} == {k: v["record_sha256"] for k, v in latest.items()}
    names = expected.identity_names(dataset)
    agents = expected.agent_rows(dataset)
    for cid, _sha, author, agent, email in rows:
        row = latest[cid]
        assert author == names[row["author_identity_id"]]["display_name"]
        if row["creator_id"]:
            assert agent == agents[row["creator_id"]]["name"]  # newest agent row wins
            assert email == agents[row["creator_id"]]["email"]
    assert dict((r[0], r[2]) for r in rows)["c1"] == "Alice Customer"  # renamed identity


def test_threads_status_and_counts(conn, dataset):
    rows = conn.execute(
        "SELECT thread_id, status, message_count, inbound_count, agent_replies, customer_name "
        "FROM threads"
    ).fetchall()
    assert {r[0]: r[1] for r in rows} == expected.thread_status(dataset)
    by_thread = {r[0]: r[2:] for r in rows}
    assert by_thread["t-a1"] == (5, 2, 3, "Alice Customer")
    assert by_thread["t-b1"] == (3, 2, 1, "Bob Buyer")


def test_reply_pairs_first_reply_and_seconds(conn, dataset):
    rows = conn.execute("SELECT inbound_id, reply_id, response_seconds FROM reply_pairs").fetchall()
    want = {i: (r["id"] if r else None) for i, r in expected.first_replies(dataset).items()}
    assert {r[0]: r[1] for r in rows} == want
    assert {r[0]: r[2] for r in rows} == {
        "c1": 120.0,
        "c3": 300.0,  # c4 (Eli, 300 s) is first; c5 (Dana, later) is not counted
        "c7": 1800.0,
        "c6": None,
        "c9": None,
    }


def test_ledger_view_lists_every_manifest(conn, local_archive):
    manifests = list(local_archive.glob("_ledger/*/*/*.json"))
    rows = conn.execute(
        "SELECT table_name, stream, seq, file_count, rows, cursor_page_token, manifest_sha256 "
        "FROM ledger ORDER BY table_name, stream, seq"
    ).fetchall()
    assert len(rows) == len(manifests) == 7
    first_contents = next(r for r in rows if r[0] == "contents" and r[2] == 0)
    assert first_contents[1] == f"source_id={S1}"
    assert first_contents[5] == "tok-0"
    assert first_contents[4] == 7 + 2  # 7 contents rows + 2 quarantine rows


def test_capture_lag_per_source(conn, dataset):
    rows = conn.execute("SELECT source_id, newest_creation_time FROM capture_lag").fetchall()
    newest: dict[str, object] = {}
    for row in expected.versions(dataset):
        newest[row["source_id"]] = max(
            newest.get(row["source_id"], row["creation_time"]), row["creation_time"]
        )
    assert dict(rows) == newest


def test_empty_archive_gives_typed_views(tmp_path):
    report = build_catalog(tmp_path / "empty-archive", tmp_path / "audit.duckdb", Settings())
    assert report.manifests == 0
    conn = connect(report.audit_db, Settings())
    try:
        for table, view in [
            ("contents", "contents"),
            ("identities", "identities_latest"),
            ("agents", "agents"),
            ("quarantine", "quarantine"),
        ]:
            described = conn.execute(f"DESCRIBE {view}").fetchall()
            assert [(r[0], r[1]) for r in described] == duckdb_column_types(
                table_schema(table).arrow_schema
            )
            assert conn.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,)
        for view in PUBLIC_VIEWS:
            conn.execute(f"SELECT * FROM {view}").fetchall()
    finally:
        conn.close()


def test_rebuild_is_atomic_and_sees_new_commits(tmp_path):
    data = make_dataset()
    builder = ArchiveBuilder(str(tmp_path / "archive"))
    write_dataset(builder, data)
    db = tmp_path / "audit.duckdb"
    build_catalog(tmp_path / "archive", db, Settings())
    reader = connect(db, Settings())
    before = reader.execute("SELECT count(*) FROM contents").fetchone()[0]
    extra = dict(data.contents_batches[S1][0][0])
    extra |= {"id": "c-new", "record_sha256": "f" * 64, "body": "new after first build"}
    builder.commit_batch("contents", f"source_id={S1}", [("contents", [extra])])
    build_catalog(tmp_path / "archive", db, Settings())
    # The open reader keeps its snapshot; a new connection sees the rebuilt catalog.
    assert reader.execute("SELECT count(*) FROM contents").fetchone()[0] == before
    reader.close()
    after = connect(db, Settings())
    assert after.execute("SELECT count(*) FROM contents").fetchone()[0] == before + 1
    after.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "audit.duckdb"]


def test_views_deduplicate_a_version_committed_twice(tmp_path, monkeypatch):
    # Fault injection: the ledger normally drops versions already archived; disable that to
    # simulate a writer bug / race, and prove the views still show each version once.
    monkeypatch.setattr(Ledger, "not_yet_archived", lambda self, t, s, n, data: data)
    data = make_dataset()
    builder = ArchiveBuilder(str(tmp_path / "archive"))
    write_dataset(builder, data)
    duplicate = dict(data.contents_batches[S1][0][1])  # c2, same record_sha256
    builder.commit_batch("contents", f"source_id={S1}", [("contents", [duplicate])])
    report = build_catalog(tmp_path / "archive", tmp_path / "audit.duckdb", Settings())
    conn = connect(report.audit_db, Settings())
    raw = conn.execute("SELECT count(*) FROM internal._src_contents WHERE id = 'c2'").fetchone()
    assert raw == (2,)
    assert conn.execute("SELECT count(*) FROM contents WHERE id = 'c2'").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM messages WHERE id = 'c2'").fetchone() == (1,)
    conn.close()


def test_missing_committed_file_fails_the_build_clearly(tmp_path):
    data = make_dataset()
    write_dataset(ArchiveBuilder(str(tmp_path / "archive")), data)
    victim = next((tmp_path / "archive").glob("agents/*.parquet"))
    victim.unlink()
    with pytest.raises(RuntimeError, match="rc-archive verify"):
        build_catalog(tmp_path / "archive", tmp_path / "audit.duckdb", Settings())
    assert not (tmp_path / "audit.duckdb").exists()


def test_read_only_connection_refuses_writes(conn):
    with pytest.raises(duckdb.Error):
        conn.execute("CREATE TABLE x AS SELECT 1")


def test_missing_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="rc-archive catalog"):
        connect(tmp_path / "nope.duckdb", Settings())


def test_duckdb_types_follow_arrow(tmp_path):
    types = dict(duckdb_column_types(pa.schema([("t", pa.timestamp("ms", tz="UTC"))])))
    assert types["t"] == "TIMESTAMP WITH TIME ZONE"


def test_a_build_over_its_memory_budget_retries_with_a_larger_one(tmp_path, monkeypatch, caplog):
    write_dataset(ArchiveBuilder(str(tmp_path / "archive")), make_dataset())
    monkeypatch.setattr(catalog, "BUILD_MEMORY_LIMITS", ("1KB", "64MB"))
    with caplog.at_level("WARNING", logger="pipelines.catalog.build"):
        report = build_catalog(tmp_path / "archive", tmp_path / "audit.duckdb", Settings())
    assert "needed more than 1KB of memory; retrying with 64MB" in caplog.text
    conn = connect(report.audit_db, Settings())
    assert conn.execute("SELECT count(*) FROM contents").fetchone()[0] > 0
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "audit.duckdb"]


def test_a_build_that_cannot_fit_any_budget_fails_and_leaves_no_catalog(tmp_path, monkeypatch):
    write_dataset(ArchiveBuilder(str(tmp_path / "archive")), make_dataset())
    monkeypatch.setattr(catalog, "BUILD_MEMORY_LIMITS", ("1KB",))
    with pytest.raises(duckdb.OutOfMemoryException):
        build_catalog(tmp_path / "archive", tmp_path / "audit.duckdb", Settings())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive"]
