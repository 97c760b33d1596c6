"""The archive on a real S3 protocol (moto server over HTTP) with Object Lock.

Every request the archive's client sends is recorded via botocore 'before-call' events, so the
tests assert on what is sent: no DeleteObject ever, no PutObject to a key that existed, and
Object Lock headers on every put (moto does not enforce all of Object Lock itself).
"""

from __future__ import annotations

import pytest

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import ObjectExistsError, S3Store, open_store
from pipelines.archive.verify import verify
from pipelines.settings import Settings
from tests.archive.support import STREAM, make_records, normalised_batch

pytestmark = pytest.mark.s3


class RequestLog:
    def __init__(self, client) -> None:
        self.calls: list[tuple[str, dict]] = []
        client.meta.events.register("before-call.s3", self._record)

    def _record(self, model, params, **_kwargs) -> None:
        # 'before-call' hands over the serialised request (url_path, headers, body).
        self.calls.append((model.name, params))

    def names(self) -> set[str]:
        return {name for name, _ in self.calls}


def _store(s3_server, bucket, **lock) -> tuple[S3Store, RequestLog]:
    env = dict(s3_server.env)
    env.update(lock)
    store = open_store(f"s3://{bucket}/archive", Settings.from_env(env))
    return store, RequestLog(store.client)


def _commit(ledger, records, high_water="2024-02-21T00:00:00.000Z"):
    batch = normalised_batch(records)
    return ledger.commit_batch(
        "contents",
        STREAM,
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor={"high_water_time": high_water},
        run_id="run-1",
    )


def test_compliance_puts_carry_lock_and_retry_adds_no_copy(s3_server, s3_bucket):
    store, log = _store(
        s3_server,
        s3_bucket,
        ARCHIVE_OBJECT_LOCK_MODE="COMPLIANCE",
        ARCHIVE_RETENTION_DAYS="30",
        ARCHIVE_LEGAL_HOLD="true",
    )
    assert "secret" not in store.describe().lower() and "COMPLIANCE" in store.describe()
    ledger = Ledger(store)
    records = make_records(30)
    first = _commit(ledger, records)
    second = _commit(ledger, records)  # the retry of the same pages
    assert second.files == ()
    ids = ledger.read_table(ledger.committed_files("contents"), ["id"]).column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 30

    assert "DeleteObject" not in log.names() and "DeleteObjects" not in log.names()
    puts = [params for name, params in log.calls if name == "PutObject"]
    assert puts
    written: set[str] = set()
    for request in puts:  # the serialised request: exactly what goes on the wire
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert request["url_path"] not in written, f"second PutObject to {request['url_path']}"
        written.add(request["url_path"])
        assert headers["if-none-match"] == "*"
        assert headers["x-amz-checksum-sha256"]
        assert headers["x-amz-object-lock-mode"] == "COMPLIANCE"
        assert headers["x-amz-object-lock-retain-until-date"]
        assert headers["x-amz-object-lock-legal-hold"] == "ON"
    head = store.head(first.files[0].key)
    assert head["object_lock_mode"] == "COMPLIANCE" and head["object_lock_retain_until"]
    assert verify(store).ok


def test_put_to_existing_key_is_refused_without_a_put(s3_server, s3_bucket):
    store, log = _store(s3_server, s3_bucket)
    store.put("x/one.json", b"{}", content_type="application/json")
    count = sum(1 for name, _ in log.calls if name == "PutObject")
    with pytest.raises(ObjectExistsError):
        store.put("x/one.json", b"{1}", content_type="application/json")
    assert sum(1 for name, _ in log.calls if name == "PutObject") == count
    assert store.get("x/one.json") == b"{}"
    assert list(store.list("x/")) == ["x/one.json"]
    assert store.uri_for("x/one.json") == f"s3://{s3_bucket}/archive/x/one.json"


def test_server_refuses_overwrite_under_a_race(s3_server, s3_bucket):
    """Skip the client-side existence check: the If-None-Match condition alone must refuse."""
    store, _ = _store(s3_server, s3_bucket)
    store.put("race/k", b"first", content_type="text/plain")
    store.exists = lambda key: False  # fault injection: pretend the HEAD raced the other writer
    with pytest.raises(ObjectExistsError):
        store.put("race/k", b"second", content_type="text/plain")


def test_verify_on_s3_finds_extra_and_missing_and_changed(s3_server):
    bucket = s3_server.make_bucket(object_lock=False)  # no lock, so 'changed' can be staged
    store, _ = _store(s3_server, bucket)
    ledger = Ledger(store)
    manifest = _commit(ledger, make_records(20))
    assert verify(store).ok
    raw = s3_server.client()
    changed, missing = manifest.files[0].key, manifest.files[1].key
    raw.put_object(Bucket=bucket, Key=f"archive/{changed}", Body=b"tampered")
    raw.delete_object(Bucket=bucket, Key=f"archive/{missing}")
    extra = f"identities/{STREAM}/0000000000-bbbbbbbbbbbb.parquet"
    raw.put_object(Bucket=bucket, Key=f"archive/{extra}", Body=b"x")
    report = verify(store)
    assert not report.ok
    assert [f.key for f in report.of_kind("changed")] == [changed]
    assert [f.key for f in report.of_kind("missing")] == [missing]
    assert [f.key for f in report.of_kind("extra")] == [extra]


def test_checkpoints_compaction_and_refresh_on_s3_read_only_what_is_new(s3_server, s3_bucket):
    from datetime import UTC, datetime

    from pipelines.archive.compaction import compact_month
    from tests.archive.support import SOURCE_ID, commit_records

    store, log = _store(s3_server, s3_bucket)
    writer = Ledger(store, checkpoint_every=4)
    for i in range(10):
        commit_records(writer, i * 5, 5)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert compact_month(writer, SOURCE_ID, "2024-02", "compact", now=now).manifest
    writer.write_checkpoint("contents", STREAM)
    assert Ledger(store).latest_checkpoint("contents", STREAM).seq == 10

    log.calls.clear()
    state = Ledger(store).state("contents", STREAM)
    assert state.head_seq == 10 and len(state.live_files("contents")) == 1
    # The checkpoints folder, then the manifests after the checkpoint (delimited: the intents
    # and checkpoints below the stream's folder are not listed with them).
    assert sum(1 for name, _ in log.calls if name == "ListObjectsV2") == 2
    assert sum(1 for name, _ in log.calls if name == "GetObject") == 2  # checkpoint + its head
    assert "DeleteObject" not in log.names()
    report = verify(store)
    assert report.ok and not report.findings, report.summary()


def test_a_large_file_goes_up_in_checksummed_parts_and_a_failed_upload_leaves_nothing(
    s3_server, s3_bucket, tmp_path, monkeypatch
):
    import base64
    import hashlib
    import os

    from botocore.exceptions import ClientError

    from pipelines.archive import store as store_module

    # 5 MiB parts (S3's smallest) instead of 16 MiB, only to keep the file small: 3 parts.
    monkeypatch.setattr(store_module, "MULTIPART_PART", 5 << 20)
    store, log = _store(s3_server, s3_bucket)
    data = os.urandom((12 << 20) + 12345)
    path = tmp_path / "video.bin"
    path.write_bytes(data)
    result = store.put_file("attachments/sha256=big", path, content_type="video/mp4")
    assert result.bytes == len(data) and result.sha256 == hashlib.sha256(data).hexdigest()
    sent = [
        (name, params) for name, params in log.calls if "Multipart" in name or name == "UploadPart"
    ]
    assert [name for name, _ in sent] == [
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPart",
        "UploadPart",
        "CompleteMultipartUpload",
    ]
    assert "PutObject" not in log.names()
    chunks = [data[i : i + (5 << 20)] for i in range(0, len(data), 5 << 20)]
    for (_, params), chunk in zip(sent[1:4], chunks, strict=True):
        expected = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        assert params["headers"]["x-amz-checksum-sha256"] == expected
    assert sent[-1][1]["headers"]["If-None-Match"] == "*"
    with store.open("attachments/sha256=big") as body:
        assert hashlib.sha256(body.read()).hexdigest() == result.sha256

    # Fault injection: the second part fails for good. No object appears, the upload is
    # aborted, and a second attempt can still write the key.
    real_upload_part = store.client.upload_part
    calls = {"n": 0}

    def failing_upload_part(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "injected"}}, "UploadPart"
            )
        return real_upload_part(**kwargs)

    monkeypatch.setattr(store.client, "upload_part", failing_upload_part)
    with pytest.raises(OSError, match="injected|InternalError"):
        store.put_file("attachments/sha256=other", path, content_type="video/mp4")
    assert not store.exists("attachments/sha256=other")
    assert "AbortMultipartUpload" in log.names()
    pending = store.client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert not [u for u in pending if u["Key"].endswith("sha256=other")]
    monkeypatch.setattr(store.client, "upload_part", real_upload_part)
    assert store.put_file("attachments/sha256=other", path, content_type="video/mp4").bytes == len(
        data
    )
