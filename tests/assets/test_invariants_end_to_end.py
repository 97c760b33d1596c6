"""Invariants 2 and 8 through the whole pipeline: a COMPLIANCE-locked S3 bucket, and no secret
in the archive, the audit database or Dagster's event log."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.runner import run_sources
from pipelines.archive.store import open_store
from pipelines.archive.verify import verify
from pipelines.catalog.connection import connect
from pipelines.settings import Settings


def _use(monkeypatch, sb, **settings: str) -> None:
    for key, value in {**sb.env, **settings}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


def test_run_on_a_compliance_locked_s3_bucket(
    sandbox_factory, s3_server, s3_bucket, tmp_path, monkeypatch
):
    sb = sandbox_factory(contents=400, sources=2)
    uri = f"s3://{s3_bucket}/archive"
    _use(
        monkeypatch,
        sb,
        ARCHIVE_URI=uri,
        ARCHIVE_OBJECT_LOCK_MODE="COMPLIANCE",
        ARCHIVE_RETENTION_DAYS="1",
        AUDIT_DB=str(tmp_path / "audit.duckdb"),
    )
    summaries = run_sources(sb.world.source_ids, reconcile_mode="full")
    assert all(s.success and all(s.checks.values()) for s in summaries), summaries

    client = s3_server.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys and all(k.startswith("archive/") for k in keys)
    for key in keys[:20]:
        head = client.head_object(Bucket=s3_bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE", key
    assert verify(open_store(uri, Settings.from_env(dict(s3_server.env)))).ok

    conn = connect(
        tmp_path / "audit.duckdb", Settings.from_env(dict(s3_server.env)), read_only=True
    )
    try:
        archived = {r[0] for r in conn.execute("SELECT id FROM messages").fetchall()}
    finally:
        conn.close()
    assert archived == set().union(*(sb.world.content_ids(s) for s in sb.world.source_ids))


def test_no_secret_in_the_archive_the_catalog_or_the_event_log(
    sandbox_factory, tmp_path, monkeypatch
):
    sb = sandbox_factory(contents=300, sources=1)
    _use(
        monkeypatch,
        sb,
        ARCHIVE_URI=str(tmp_path / "archive"),
        AUDIT_DB=str(tmp_path / "audit.duckdb"),
    )
    secrets = [sb.env["RC_APP_CLIENT_SECRET"], sb.env["RC_USER_JWT"]]
    instance = dg.DagsterInstance.ephemeral()
    [summary] = run_sources(sb.world.source_ids, instance=instance)
    assert summary.success

    written = [p for p in Path(tmp_path).rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in written)
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, path
    events = "".join(
        str(record) for run in instance.get_runs() for record in instance.all_logs(run.run_id)
    )
    assert "contents" in events
    for secret in secrets:
        assert secret not in events
        assert secret not in str(summary)
