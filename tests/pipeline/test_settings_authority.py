"""One reading of each archive setting, and resource fields that win over the environment."""

from __future__ import annotations

import pytest

from assets.resources import ArchiveResource
from pipelines.archive.store import StoreConfigError, parse_flag


def test_a_resource_without_legal_hold_gets_none_whatever_the_environment(monkeypatch):
    monkeypatch.setenv("ARCHIVE_LEGAL_HOLD", "true")
    monkeypatch.setenv("ARCHIVE_OBJECT_LOCK_MODE", "COMPLIANCE")
    monkeypatch.setenv("ARCHIVE_RETENTION_DAYS", "3650")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never contacted
    store = ArchiveResource(archive_uri="s3://bucket/prefix").store()
    assert (store.legal_hold, store.object_lock_mode, store.retention_days) == (False, None, None)
    held = ArchiveResource(
        archive_uri="s3://bucket/prefix",
        legal_hold=True,
        object_lock_mode="GOVERNANCE",
        retention_days=30,
    ).store()
    assert (held.legal_hold, held.object_lock_mode, held.retention_days) == (True, "GOVERNANCE", 30)


def test_the_code_location_reads_flags_as_the_store_does(monkeypatch):
    from assets.definitions import build_resources

    for text, expected in (("yes", True), ("on", True), ("1", True), ("off", False), ("", False)):
        monkeypatch.setenv("ARCHIVE_LEGAL_HOLD", text)
        assert build_resources()["archive"].legal_hold is expected, text
        assert parse_flag("ARCHIVE_LEGAL_HOLD", text) is expected
    with pytest.raises(StoreConfigError, match="ARCHIVE_LEGAL_HOLD='maybe'"):
        parse_flag("ARCHIVE_LEGAL_HOLD", "maybe")
