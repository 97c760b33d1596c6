"""Retention classes applied at write time: on an Object Lock bucket of the S3 server, each
object is locked until the end of its source's class (by channel type, which the writer reads
from the rows, or by source id), never less than ARCHIVE_RETENTION_DAYS."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.archive.ledger import Ledger
from pipelines.governance.retention import open_governed_store
from pipelines.settings import Settings
from tests.archive.support import SOURCE_ID, commit_records


def _retain_years(client, bucket: str, store, prefix: str) -> dict[str, float]:
    now = datetime.now(UTC)
    found = {}
    for key in store.list(prefix):
        until = client.head_object(Bucket=bucket, Key=f"arc/{key}")["ObjectLockRetainUntilDate"]
        found[key] = round((until - now).days / 365.25, 1)
    return found


def _store(s3_server, bucket: str, tmp_path, classes: str):
    path = tmp_path / "retention.yaml"
    path.write_text(classes, encoding="utf-8")
    env = dict(s3_server.env) | {
        "ARCHIVE_OBJECT_LOCK_MODE": "COMPLIANCE",
        "ARCHIVE_RETENTION_DAYS": "30",
        "ARCHIVE_RETENTION_CLASSES": str(path),
    }
    return open_governed_store(f"s3://{bucket}/arc", Settings.from_env(env))


def test_objects_are_locked_for_their_class(s3_server, s3_bucket, tmp_path):
    store = _store(
        s3_server, s3_bucket, tmp_path, "default_years: 2\nchannel_types:\n  WhatsApp: 5\n"
    )
    commit_records(Ledger(store), 0, 10, days=2)
    client = s3_server.client()
    contents = _retain_years(client, s3_bucket, store, "contents/")
    assert contents and set(contents.values()) == {5.0}  # the rows are WhatsApp messages
    # The ledger outlives every file it names: the longest class.
    ledger = _retain_years(client, s3_bucket, store, "_ledger/")
    assert set(ledger.values()) == {5.0}


def test_a_source_class_wins_and_days_are_the_floor(s3_server, s3_bucket, tmp_path):
    classes = f"default_years: 1\nchannel_types:\n  WhatsApp: 5\nsources:\n  {SOURCE_ID}: 10\n"
    store = _store(s3_server, s3_bucket, tmp_path, classes)
    commit_records(Ledger(store), 0, 10, days=2)
    client = s3_server.client()
    assert set(_retain_years(client, s3_bucket, store, "contents/").values()) == {10.0}
    assert set(_retain_years(client, s3_bucket, store, "_ledger/").values()) == {10.0}
    assert set(_retain_years(client, s3_bucket, store, "agents/").values()) <= {1.0}
    store.retention = None  # without classes: ARCHIVE_RETENTION_DAYS
    until = store.retain_until("agents/x.parquet")
    assert 29 <= (until - datetime.now(UTC)).days <= 30
