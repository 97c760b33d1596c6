"""Disposition: the report (retention classes, holds, an as-of date) and `--execute` (deletes
exactly the eligible files, recorded first in the ledger; verify, the Merkle log and the views
follow), on a local archive and on the S3 server (Object Lock refuses early deletes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cli.main import main
from pipelines.archive.compaction import compact_month
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore, S3Store, StoreWriteError
from pipelines.archive.verify import verify
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.governance.retention import RetentionError, parse_retention
from pipelines.integrity.log import read_log
from pipelines.settings import Settings
from tests.archive.support import SOURCE_ID, STREAM, commit_records


@pytest.fixture
def held_archive(tmp_path, monkeypatch, capsys):
    store = LocalStore(tmp_path / "archive")
    commit_records(Ledger(store), 0, 10, days=2)  # files of 2024-02-20 and 2024-02-21
    build_catalog(store, str(tmp_path / "audit.duckdb"), Settings())
    monkeypatch.setenv("ARCHIVE_URI", str(store.root))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    argv = ["hold", "place", "--matter", "m1", "--source", SOURCE_ID, "--from", "2024-02-21"]
    assert main([*argv, "--to", "2024-02-22", "--reason", "litigation"]) == 0
    capsys.readouterr()
    return tmp_path


def _report(tmp_path, capsys, as_of: str, retention: str) -> list[dict]:
    path = tmp_path / "retention.yaml"
    path.write_text(retention, encoding="utf-8")
    argv = ["disposition", "--as-of", as_of, "--retention", str(path), "--format", "json"]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_past_retention_and_not_held_is_eligible_held_files_never_are(held_archive, capsys):
    rows = _report(held_archive, capsys, "2031-06-01", "default_years: 7\n")
    assert [(r["period"], r["files"], r["status"]) for r in rows] == [
        ("2024-02", 1, "eligible"),  # the 2024-02-20 file
        ("2024-02", 1, "held"),  # the 2024-02-21 file: the matter holds it
    ]
    assert sum(r["rows"] for r in rows) == 10
    rows = _report(held_archive, capsys, "2030-06-01", "default_years: 7\n")
    assert {r["status"] for r in rows} == {"retained", "held"}
    longer = f"default_years: 7\nsources:\n  {SOURCE_ID}: 10\n"
    rows = _report(held_archive, capsys, "2031-06-01", longer)
    assert {r["status"] for r in rows} == {"retained", "held"}
    assert {r["retention_years"] for r in rows} == {10}


@pytest.mark.parametrize(
    "document, message",
    [
        ({}, "default_years: expected whole years"),
        ({"default_years": 0}, "from 1 to 100"),
        ({"default_years": 7, "channels": {}}, "unknown keys channels"),
        ({"default_years": 7, "sources": {"x": "ten"}}, "sources.x"),
    ],
)
def test_a_bad_retention_file_is_one_clear_error(document, message):
    with pytest.raises(RetentionError, match=message):
        parse_retention(document)


# -- disposition --execute ----------------------------------------------------------------


def _execute(tmp_path, capsys, retention: str = "default_years: 1\n", as_of: str = "2026-01-01"):
    path = tmp_path / "retention.yaml"
    path.write_text(retention, encoding="utf-8")
    argv = ["disposition", "--as-of", as_of, "--retention", str(path), "--execute"]
    code = main([*argv, "--reason", "schedule RS-4", "--format", "json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else []), out.err


def _live_keys(store) -> list[str]:
    return [e.key for e in Ledger(store).committed_files("contents")]


def test_execute_deletes_only_what_is_eligible_and_verify_accepts_it(
    held_archive, capsys, monkeypatch
):
    monkeypatch.setenv("RC_ARCHIVE_USER", "alice@example.com")
    store = LocalStore(held_archive / "archive")
    before = read_log(Ledger(store), SOURCE_ID)
    code, outcomes, _ = _execute(held_archive, capsys)
    assert code == 0
    assert sorted(o["result"] for o in outcomes) == ["deleted", "held"]
    deleted = next(o["key"] for o in outcomes if o["result"] == "deleted")
    held = next(o["key"] for o in outcomes if o["result"] == "held")
    assert not store.exists(deleted) and store.exists(held)
    assert _live_keys(store) == [held]
    head = Ledger(store).head("contents", STREAM)
    assert head.is_disposition and head.disposal.user == "alice@example.com"
    assert head.disposal.reason == "schedule RS-4" and [e.key for e in head.replaces] == [deleted]
    report = verify(store)
    assert report.ok and not report.findings, report.summary()
    # The Merkle log still has every leaf: earlier certificates keep checking.
    after = read_log(Ledger(store), SOURCE_ID)
    assert not after.problems and (after.size, after.root()) == (before.size, before.root())
    build_catalog(store, str(held_archive / "audit.duckdb"), Settings())
    conn = connect(str(held_archive / "audit.duckdb"), Settings())
    try:
        assert conn.execute("SELECT count(*) FROM contents").fetchone()[0] == 5
        kinds = conn.execute("SELECT kind FROM ledger ORDER BY seq").fetchall()
        assert kinds[-1] == ("disposition",)
        disposed = conn.execute(
            'SELECT "user", reason, removed_files, removed_rows, objects_deleted FROM dispositions'
        ).fetchall()
        assert disposed == [("alice@example.com", "schedule RS-4", 1, 5, 1)]
    finally:
        conn.close()


def test_verify_holds_a_disposition_to_the_retention_policy_in_force(
    held_archive, capsys, monkeypatch
):
    """The class a disposition applied is kept with it; verify holds it to the policy in force
    (ARCHIVE_RETENTION_CLASSES) when one is set: a shorter class is `disposal_early`."""
    from pipelines.archive.disposal import disposition_terms

    assert _execute(held_archive, capsys)[0] == 0  # one year, as of 2026-01-01
    store = LocalStore(held_archive / "archive")
    head = Ledger(store).head("contents", STREAM)
    retention = disposition_terms(store.get(head.disposal.hashes.key))["retention"]
    assert (retention["years"], retention["policy"]["default_years"]) == (1, 1)
    assert main(["verify"]) == 0
    in_force = held_archive / "in-force.yaml"
    in_force.write_text("default_years: 7\n", encoding="utf-8")
    monkeypatch.setenv("ARCHIVE_RETENTION_CLASSES", str(in_force))
    capsys.readouterr()
    assert main(["verify"]) == 3
    assert f"disposal_early: {head.key}: deletes {head.replaces[0].key}" in capsys.readouterr().out


def test_a_compacted_file_goes_with_its_inputs_unless_an_input_is_held(
    tmp_path, capsys, monkeypatch
):
    store = LocalStore(tmp_path / "archive")
    ledger = Ledger(store)
    for start in (0, 10, 20):
        commit_records(ledger, start, 10, days=2)
    inputs = _live_keys(store)
    compact_month(
        ledger, SOURCE_ID, "2024-02", "compaction-1", now=datetime(2024, 3, 5, tzinfo=UTC)
    )
    [output] = _live_keys(store)
    monkeypatch.setenv("ARCHIVE_URI", str(store.root))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    code, outcomes, _ = _execute(tmp_path, capsys)
    assert code == 0 and [(o["key"], o["objects"], o["result"]) for o in outcomes] == [
        (output, 1 + len(inputs), "deleted")
    ]
    assert not any(store.exists(key) for key in [output, *inputs])
    report = verify(store)
    assert report.ok and not report.findings, report.summary()


def test_an_input_held_as_it_landed_keeps_the_compacted_file(tmp_path, capsys, monkeypatch):
    store = LocalStore(tmp_path / "archive")
    ledger = Ledger(store)
    for start in (0, 10):
        commit_records(ledger, start, 10, days=2)
    build_catalog(store, str(tmp_path / "audit.duckdb"), Settings())
    monkeypatch.setenv("ARCHIVE_URI", str(store.root))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    argv = ["hold", "place", "--matter", "m1", "--source", SOURCE_ID, "--reason", "litigation"]
    assert main(argv) == 0
    compact_month(
        ledger, SOURCE_ID, "2024-02", "compaction-1", now=datetime(2024, 3, 5, tzinfo=UTC)
    )
    capsys.readouterr()
    code, outcomes, _ = _execute(tmp_path, capsys)
    assert code == 0 and [o["result"] for o in outcomes] == ["held"]
    assert Ledger(store).head("contents", STREAM).is_compaction  # nothing was recorded


class RefusingStore(LocalStore):
    """Fault injection: the store refuses to delete the keys in `refuse` (as an Object Lock
    whose retention is not over would), to show what a disposition left half done looks like."""

    refuse: set[str] = set()

    def dispose(self, key: str) -> None:
        if key in self.refuse:
            raise StoreWriteError(f"refused to delete {key}", needs_person=True)
        super().dispose(key)


def test_an_interrupted_disposition_is_reported_and_finished_later(
    held_archive, capsys, monkeypatch
):
    store = LocalStore(held_archive / "archive")
    [eligible] = [k for k in _live_keys(store) if "2024-02-20" in k]
    RefusingStore.refuse = {eligible}
    monkeypatch.setattr(
        "cli.archive_location.open_store", lambda settings: RefusingStore(store.root)
    )
    code, outcomes, _ = _execute(held_archive, capsys)
    assert code == 1 and any(o["result"].startswith("refused") for o in outcomes)
    report = verify(store)
    assert report.ok and [f.kind for f in report.findings] == ["disposal_incomplete"]
    RefusingStore.refuse = set()
    code, outcomes, _ = _execute(held_archive, capsys)
    assert code == 0 and ("finished", eligible) in [(o["result"], o["key"]) for o in outcomes]
    report = verify(store)
    assert report.ok and not report.findings, report.summary()


def test_a_removed_disposition_record_makes_the_deletion_tampering(held_archive, capsys):
    store = LocalStore(held_archive / "archive")
    assert _execute(held_archive, capsys)[0] == 0
    hashes = [k for k in store.list("_ledger/") if "/_disposed/" in k]
    assert len(hashes) == 1
    path = store.root / hashes[0]
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-10])
    kinds = {f.kind for f in verify(store).findings}
    assert "disposal_invalid" in kinds


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--as-of", "2999-01-01", "--reason", "x"], "in the future"),
        (["--as-of", "2026-01-01"], "--execute needs --reason"),
    ],
)
def test_execute_refuses_a_future_date_and_a_missing_reason(held_archive, capsys, argv, message):
    path = held_archive / "retention.yaml"
    path.write_text("default_years: 1\n", encoding="utf-8")
    assert main(["disposition", "--retention", str(path), "--execute", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_compliance_bucket_refuses_early_deletes(
    s3_server, s3_bucket, tmp_path, capsys, monkeypatch
):
    locked = S3Store(
        s3_bucket, "arc", s3_server.client(), object_lock_mode="COMPLIANCE", retention_days=1
    )
    commit_records(Ledger(locked), 0, 10, days=2)
    keys = _live_keys(locked)
    # The server itself refuses, whatever the archive's own checks say.
    with pytest.raises(StoreWriteError, match="AccessDenied"):
        locked.dispose(keys[0])
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ARCHIVE_URI", f"s3://{s3_bucket}/arc")
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    code, outcomes, _ = _execute(tmp_path, capsys)
    assert code == 0
    assert [o["result"].split(" until")[0] for o in outcomes] == [
        "locked: Object Lock COMPLIANCE retention"
    ] * 2
    assert sorted(_live_keys(locked)) == sorted(keys) and all(locked.exists(k) for k in keys)
    assert not Ledger(locked).head("contents", STREAM).is_disposition


def test_s3_disposition_deletes_the_version_and_keeps_held_objects(
    s3_server, s3_bucket, tmp_path, capsys, monkeypatch
):
    store = S3Store(s3_bucket, "arc", s3_server.client())
    commit_records(Ledger(store), 0, 10, days=2)
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ARCHIVE_URI", f"s3://{s3_bucket}/arc")
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    build_catalog(
        f"s3://{s3_bucket}/arc", tmp_path / "audit.duckdb", Settings.from_env(dict(s3_server.env))
    )
    argv = ["hold", "place", "--matter", "m1", "--source", SOURCE_ID, "--from", "2024-02-21"]
    assert main([*argv, "--to", "2024-02-22", "--reason", "litigation"]) == 0
    capsys.readouterr()
    code, outcomes, _ = _execute(tmp_path, capsys)
    assert code == 0 and sorted(o["result"] for o in outcomes) == ["deleted", "held"]
    deleted = next(o["key"] for o in outcomes if o["result"] == "deleted")
    versions = s3_server.client().list_object_versions(Bucket=s3_bucket, Prefix=f"arc/{deleted}")
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    report = verify(store)
    assert report.ok and not report.findings, report.summary()
