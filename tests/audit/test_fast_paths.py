"""The build-time specialisations of the views (views.py) answer exactly like the general SQL.

The reference queries below are the per-query windows the views used before the build-time
tables: each fast path is checked against them on the plain-scan catalog and on a catalog with a
version committed twice (where `contents` keeps its dedupe window).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.archive.ledger import Ledger
from pipelines.catalog.build import (
    CatalogReport,
    build_catalog,
    files_relation_sql,
    files_share_one_schema,
)
from pipelines.catalog.connection import connect
from pipelines.query.transcript import thread_transcript
from pipelines.settings import Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import S1, T0, make_dataset, write_dataset

REFERENCE_LATEST = """
SELECT id, record_sha256 FROM contents
QUALIFY row_number() OVER (
    PARTITION BY source_id, thread_id, id
    ORDER BY last_modified_time DESC NULLS LAST, archived_at DESC, batch_id DESC) = 1
"""

REFERENCE_FIRST_REPLIES = """
SELECT in_reply_to_content_id, id, creation_time, creator_id, agent_name, author_identity_id,
       author_name, body
FROM messages
WHERE direction = 'outbound' AND in_reply_to_content_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY in_reply_to_content_id ORDER BY creation_time, id) = 1
"""

# The transcript without the thread-span bounds: every version of the thread, newest first.
REFERENCE_TRANSCRIPT = """
SELECT id, body, count(*) OVER (PARTITION BY id) AS versions_seen FROM contents
WHERE thread_id = $thread_id
  AND ($as_of IS NULL OR (creation_time <= $as_of
       AND coalesce(last_modified_time, creation_time) <= $as_of))
QUALIFY row_number() OVER (
    PARTITION BY source_id, thread_id, id
    ORDER BY last_modified_time DESC NULLS LAST, archived_at DESC, batch_id DESC) = 1
ORDER BY creation_time, id
"""


@pytest.fixture(scope="module")
def duplicated_catalog(tmp_path_factory: pytest.TempPathFactory) -> CatalogReport:
    # Fault injection (as in test_catalog): disable the ledger's drop of already archived
    # versions to commit one version twice, which forces the dedupe-window `contents`.
    root = tmp_path_factory.mktemp("dup") / "archive"
    original = Ledger.not_yet_archived
    Ledger.not_yet_archived = lambda self, t, s, n, data: data  # type: ignore[method-assign]
    try:
        data = make_dataset()
        builder = ArchiveBuilder(str(root))
        write_dataset(builder, data)
        duplicate = dict(data.contents_batches[S1][0][1])
        builder.commit_batch("contents", f"source_id={S1}", [("contents", [duplicate])])
    finally:
        Ledger.not_yet_archived = original  # type: ignore[method-assign]
    return build_catalog(root, root.parent / "audit.duckdb", Settings())


@pytest.fixture(params=["plain", "deduped"])
def any_conn(
    request: pytest.FixtureRequest,
    local_catalog: CatalogReport,
    duplicated_catalog: CatalogReport,
) -> Iterator[duckdb.DuckDBPyConnection]:
    report = local_catalog if request.param == "plain" else duplicated_catalog
    assert report.contents_plain_scan is (request.param == "plain")
    connection = connect(report.audit_db, Settings())
    try:
        yield connection
    finally:
        connection.close()


def test_build_specialises_the_plain_catalog(local_catalog):
    assert local_catalog.contents_plain_scan
    assert "contents" in local_catalog.uniform_schema_tables


def test_contents_latest_matches_the_window(any_conn):
    got = sorted(any_conn.execute("SELECT id, record_sha256 FROM contents_latest").fetchall())
    assert got == sorted(any_conn.execute(REFERENCE_LATEST).fetchall())
    assert len(got) == len({row[0] for row in got})  # one version per message


def test_superseded_table_holds_every_older_version(any_conn):
    total = any_conn.execute("SELECT count(*) FROM contents").fetchone()[0]
    latest = any_conn.execute("SELECT count(*) FROM contents_latest").fetchone()[0]
    superseded = any_conn.execute("SELECT count(*) FROM internal._contents_superseded").fetchone()[
        0
    ]
    assert superseded > 0 and total == latest + superseded


def test_reply_pairs_match_the_window(any_conn):
    got = any_conn.execute(
        "SELECT inbound_id, reply_id, reply_time, agent_id, agent_name, reply_author_identity_id,"
        " reply_author_name, reply_body FROM reply_pairs WHERE reply_id IS NOT NULL"
    ).fetchall()
    want = any_conn.execute(REFERENCE_FIRST_REPLIES).fetchall()
    assert sorted(got, key=str) == sorted(want, key=str) and got


def test_transcript_matches_the_unbounded_query(any_conn):
    threads = [
        row[0] for row in any_conn.execute("SELECT DISTINCT thread_id FROM contents").fetchall()
    ]
    moments = [None, T0 + timedelta(minutes=5), T0 + timedelta(days=2, minutes=90)]
    for thread_id in threads:
        for as_of in moments:
            lines = thread_transcript(any_conn, thread_id, as_of)
            want = any_conn.execute(
                REFERENCE_TRANSCRIPT, {"thread_id": thread_id, "as_of": as_of}
            ).fetchall()
            got = [(line.content_id, line.body, line.versions_seen) for line in lines]
            assert got == want, (thread_id, as_of)


def test_schema_check_tells_differing_files_apart(tmp_path: Path):
    first, second, third = (tmp_path / f"{name}.parquet" for name in ("a", "b", "c"))
    pq.write_table(pa.table({"id": ["1"], "body": ["x"]}), first)
    pq.write_table(pa.table({"id": ["2"], "body": ["y"]}), second)
    pq.write_table(pa.table({"id": ["3"], "body": ["z"], "extra": [1]}), third)
    conn = duckdb.connect()
    assert files_share_one_schema(conn, [str(first), str(second)])
    assert not files_share_one_schema(conn, [str(first), str(third)])
    # The fallback for differing files still reads every column of every file.
    rows = conn.execute(files_relation_sql([str(first), str(third)]) + " ORDER BY id").fetchall()
    assert rows == [("1", "x", None), ("3", "z", 1)]
