"""One reading of each archive setting, and resource fields that win over the environment."""

from __future__ import annotations

import pytest

from assets.resources import ArchiveResource
from pipelines.archive.store import StoreConfigError, open_store
from pipelines.settings import SettingError, Settings, parse_flag


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
    with pytest.raises(SettingError, match="ARCHIVE_LEGAL_HOLD='maybe'"):
        parse_flag("ARCHIVE_LEGAL_HOLD", "maybe")


def test_one_parsed_settings_object_builds_the_resources():
    env = {
        "ARCHIVE_URI": "s3://bucket/prefix",
        "AUDIT_DB": "/srv/audit.duckdb",
        "ARCHIVE_OBJECT_LOCK_MODE": "compliance",
        "ARCHIVE_RETENTION_DAYS": "2555",
        "ARCHIVE_LEGAL_HOLD": "on",
        "ARCHIVE_WITNESS_URI": " /var/witness ",
        "RC_SOURCE_IDS": "65C3FDD9527BF900079CEFCB, 65c3fdd9527bf900079cefcc",
        "ARCHIVE_SCHEDULE_CRON": "*/5 * * * *",
    }
    settings = Settings.from_env(env)
    assert settings.object_lock_mode == "COMPLIANCE"
    assert (settings.retention_days, settings.legal_hold) == (2555, True)
    assert settings.witness_uri == "/var/witness"
    assert settings.source_ids == ("65c3fdd9527bf900079cefcb", "65c3fdd9527bf900079cefcc")
    assert settings.archive_schedule_cron == "*/5 * * * *"
    assert Settings.from_env({}) == Settings()

    from assets.definitions import build_resources

    archive = build_resources(settings)["archive"]
    assert (archive.archive_uri, archive.object_lock_mode, archive.retention_days) == (
        "s3://bucket/prefix",
        "COMPLIANCE",
        2555,
    )
    assert (archive.legal_hold, archive.witness_uri) == (True, "/var/witness")
    assert build_resources(settings)["audit"].audit_db == "/srv/audit.duckdb"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ARCHIVE_RETENTION_DAYS", "ten"),
        ("ARCHIVE_OBJECT_LOCK_MODE", "STRICT"),
        ("ARCHIVE_LEGAL_HOLD", "maybe"),
        ("RC_SOURCE_IDS", "not-an-id"),
    ],
)
def test_a_malformed_setting_names_its_variable(name, value):
    with pytest.raises(SettingError, match=name):
        Settings.from_env({name: value})


def test_the_store_refuses_what_the_settings_refuse():
    env = {"ARCHIVE_RETENTION_DAYS": "-3", "ARCHIVE_OBJECT_LOCK_MODE": "GOVERNANCE"}
    with pytest.raises(SettingError, match="ARCHIVE_RETENTION_DAYS"):
        Settings.from_env(env)
    # A resource's own fields go through the same parsing before any store is opened.
    with pytest.raises(SettingError, match="ARCHIVE_RETENTION_DAYS"):
        ArchiveResource(archive_uri="s3://bucket/prefix", retention_days=-3).store()
    with pytest.raises(SettingError, match="ARCHIVE_OBJECT_LOCK_MODE"):
        ArchiveResource(archive_uri="s3://bucket/prefix", object_lock_mode="STRICT").store()
    with pytest.raises(StoreConfigError, match="ARCHIVE_URI"):
        open_store("s3:///prefix", Settings())
    assert issubclass(StoreConfigError, SettingError)


def test_the_store_is_built_from_the_parsed_settings(monkeypatch):
    """open_store reads nothing itself: the lock settings and the S3 access it is given are
    the ones its client and store use, whatever the process environment says."""
    monkeypatch.setenv("ARCHIVE_LEGAL_HOLD", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8")
    settings = Settings.from_env(
        {
            "ARCHIVE_OBJECT_LOCK_MODE": "governance",
            "ARCHIVE_RETENTION_DAYS": "30",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never contacted
            "AWS_REGION": "eu-west-1",
        }
    )
    store = open_store("s3://bucket/prefix", settings)
    assert (store.object_lock_mode, store.retention_days, store.legal_hold) == (
        "GOVERNANCE",
        30,
        False,
    )
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert store.client.meta.region_name == "eu-west-1"
