"""The same answers over S3 (moto's server over HTTP, DuckDB httpfs loaded offline) as locally."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import client_setup_sql, connect
from pipelines.query import queries
from pipelines.query.queries import run_query
from pipelines.query.transcript import thread_transcript
from pipelines.settings import Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import CUST_A, EXT_DANA, write_dataset

pytestmark = pytest.mark.s3

PARAMS = {
    "customer_history": {"identity_id": CUST_A},
    "agent_messages": {
        "agent_id": EXT_DANA,
        "from": datetime(2026, 1, 1, tzinfo=UTC),
        "to": datetime(2027, 1, 1, tzinfo=UTC),
    },
    "term_search": {"term": "order"},
}
# Differ between two writes of the same records by design (random batch ids, commit times).
VOLATILE = {"batch_id", "last_committed_at", "lag_seconds", "seconds_since_commit"}


def _answers(conn):
    answers = {}
    for name, sql in queries.QUERY_PACK.items():
        result = run_query(conn, sql, PARAMS.get(name))
        keep = [i for i, column in enumerate(result.columns) if column not in VOLATILE]
        answers[name] = [tuple(row[i] for i in keep) for row in result.rows]
    return answers


def test_same_answers_over_s3_as_local(s3_server, s3_bucket, dataset, conn, tmp_path):
    env = dict(s3_server.env)
    uri = f"s3://{s3_bucket}/archive"
    write_dataset(ArchiveBuilder(uri, env), dataset)
    report = build_catalog(uri, tmp_path / "audit.duckdb", Settings.from_env(env))
    assert report.archive_uri == uri
    assert report.files_per_table["contents"] > 0

    s3_conn = connect(report.audit_db, Settings.from_env(env))
    try:
        files = s3_conn.execute("SELECT count(*) FROM ledger").fetchone()
        assert files == (7,)
        assert _answers(s3_conn) == _answers(conn)
        assert s3_conn.execute("SELECT count(*) FROM contents WHERE id='c-orphan'").fetchone() == (
            0,
        )
        s3_lines = thread_transcript(s3_conn, "t-b1")
        assert [line.body for line in s3_lines] == [
            line.body for line in thread_transcript(conn, "t-b1")
        ]
    finally:
        s3_conn.close()


def test_s3_catalog_without_credentials_is_a_clear_error(s3_server, s3_bucket, tmp_path):
    env = dict(s3_server.env)
    uri = f"s3://{s3_bucket}/archive"
    report = build_catalog(uri, tmp_path / "audit.duckdb", Settings.from_env(env))
    no_keys = {k: v for k, v in env.items() if not k.startswith("AWS_SECRET")}
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY"):
        connect(report.audit_db, Settings.from_env(no_keys))


def test_client_setup_sql_masks_the_secret(s3_server):
    text = client_setup_sql(Settings.from_env(s3_server.env))
    assert s3_server.env["AWS_SECRET_ACCESS_KEY"] not in text
    assert "URL_STYLE 'path'" in text and "USE_SSL false" in text
    assert "autoinstall_known_extensions=false" in text and "httpfs.duckdb_extension" in text
