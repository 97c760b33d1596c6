"""S3 credentials for the audit connection: only as a redacted DuckDB secret; static keys with
an optional session token, or the AWS credential chain (AWS_PROFILE), against moto's server."""

from __future__ import annotations

import pytest

from cli.main import main
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect, s3_secret_sql
from pipelines.settings import S3Access, Settings
from tests.audit.archive_builder import ArchiveBuilder
from tests.audit.dataset import write_dataset
from tests.fixtures.s3 import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_catalog(s3_server, s3_bucket, dataset, tmp_path):
    env = dict(s3_server.env)
    uri = f"s3://{s3_bucket}/archive"
    write_dataset(ArchiveBuilder(uri, env), dataset)
    report = build_catalog(uri, tmp_path / "audit.duckdb", Settings.from_env(env))
    return report.audit_db, env


def test_the_secret_is_never_readable(s3_catalog):
    audit_db, env = s3_catalog
    conn = connect(audit_db, Settings.from_env(env))
    try:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] > 0
        secrets = str(conn.execute("SELECT * FROM duckdb_secrets()").fetchall())
        assert SECRET_KEY not in secrets and "redacted" in secrets
        settings = str(conn.execute("SELECT name, value FROM duckdb_settings()").fetchall())
        assert SECRET_KEY not in settings
        for name in ("s3_secret_access_key", "s3_session_token"):
            try:
                value = conn.execute(f"SELECT current_setting('{name}')").fetchone()
            except Exception as exc:  # noqa: BLE001 (unknown setting: refused is fine)
                value = str(exc)
            assert SECRET_KEY not in str(value)
        # The redaction cannot be lifted.
        with pytest.raises(Exception, match="locked"):
            conn.execute("SET allow_unredacted_secrets = true")
    finally:
        conn.close()


def test_sql_command_cannot_print_the_secret(s3_catalog, monkeypatch, capsys):
    audit_db, env = s3_catalog
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AUDIT_DB", str(audit_db))
    monkeypatch.delenv("ARCHIVE_URI", raising=False)
    for sql in (
        "SELECT current_setting('s3_secret_access_key')",
        "SELECT * FROM duckdb_secrets()",
        "SELECT * FROM read_text('http://127.0.0.1:9/')",
    ):
        main(["sql", sql, "--format", "csv"])
        captured = capsys.readouterr()
        assert SECRET_KEY not in captured.out + captured.err


def test_session_token_passes_through_to_the_secret(s3_catalog):
    audit_db, env = s3_catalog
    assert "SESSION_TOKEN 'tok-123'" in s3_secret_sql(
        S3Access.from_env({**env, "AWS_SESSION_TOKEN": "tok-123"})
    )
    conn = connect(audit_db, Settings.from_env({**env, "AWS_SESSION_TOKEN": "tok-123"}))
    try:
        secret = conn.execute("SELECT secret_string FROM duckdb_secrets()").fetchone()[0]
    finally:
        conn.close()
    assert "session_token=redacted" in secret and "tok-123" not in secret


def test_profile_through_the_credential_chain(s3_catalog, tmp_path, monkeypatch):
    """No static keys: DuckDB's credential_chain reads AWS_PROFILE from the shared files."""
    audit_db, env = s3_catalog
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[auditor]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    config = tmp_path / "config"
    config.write_text("[profile auditor]\nregion = us-east-1\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    chain_env = {
        k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    chain_env["AWS_PROFILE"] = "auditor"
    sql = s3_secret_sql(S3Access.from_env(chain_env))
    assert "PROVIDER credential_chain" in sql and "PROFILE 'auditor'" in sql
    assert SECRET_KEY not in sql
    conn = connect(audit_db, Settings.from_env(chain_env))
    try:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] > 0
        provider = conn.execute("SELECT provider FROM duckdb_secrets()").fetchone()[0]
    finally:
        conn.close()
    assert provider == "credential_chain"
