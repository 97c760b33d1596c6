"""The captured attachment bytes in the audit catalog, the transcript and the export: one real
archive (sandbox over HTTP, contents + attachments captured, one attachment refused for good so
it is "not archived yet") shared by the module's tests."""

from __future__ import annotations

import csv
import email
import hashlib
import json
from pathlib import Path

import pytest

from pipelines.attachments.sync import archived_attachment_table
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.query.export import export
from pipelines.query.transcript import render_transcript, thread_transcript
from pipelines.settings import Settings
from sandbox import files
from tests.attachments.support import (
    archive_attachments,
    archive_contents,
    listed_attachments,
    one_source_sandbox,
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attachments-audit")
    with one_source_sandbox(tmp, contents=150) as (sb, ledger, source_id):
        listed = listed_attachments(sb, source_id)
        (_, gone), *_ = sorted(listed)
        sb.faults.set(f"{files.FILES_PREFIX}{gone}", error_status=404)
        archive_contents(sb, ledger, source_id)
        report = archive_attachments(sb, ledger, source_id)
        assert [f["id"] for f in report.failed] == [gone]
        contents = {c["id"]: c for c in sb.world.all_contents(source_id)}
    rows = archived_attachment_table(ledger, source_id).to_pylist()
    catalog = build_catalog(ledger.store, str(tmp / "audit.duckdb"), Settings())
    return {
        "tmp": tmp,
        "ledger": ledger,
        "source_id": source_id,
        "listed": listed,
        "gone": gone,
        "rows": {(r["content_id"], r["id"]): r for r in rows},
        "contents": contents,
        "audit_db": catalog.audit_db,
    }


@pytest.fixture
def conn(archive):
    with connect(archive["audit_db"], Settings(), read_only=True) as conn:
        yield conn


def _thread_with_both(archive) -> str:
    """A thread holding an archived attachment and the one not archived."""
    content_id, _ = next(k for k in archive["listed"] if k[1] == archive["gone"])
    return archive["contents"][content_id]["threadId"]


def test_the_attachments_view_lists_the_committed_rows_with_their_message(conn, archive):
    got = conn.execute(
        "SELECT content_id, id, sha256, size, object_key, thread_id, source_type, direction "
        "FROM attachments"
    ).fetchall()
    assert (
        {(r[0], r[1]) for r in got}
        == set(archive["rows"])
        == set(archive["listed"]) - {next(k for k in archive["listed"] if k[1] == archive["gone"])}
    )
    for content_id, attachment_id, sha256, size, key, thread_id, source_type, direction in got:
        row = archive["rows"][(content_id, attachment_id)]
        assert (sha256, size, key) == (row["sha256"], row["size"], row["object_key"])
        assert thread_id == archive["contents"][content_id]["threadId"]
        assert source_type is not None and direction in ("inbound", "outbound", None)
    counts = conn.execute("SELECT count(*), count(DISTINCT (content_id, id)) FROM attachments")
    total, distinct = counts.fetchone()
    assert total == distinct  # one row per (message, attachment)


def test_an_empty_archive_has_a_typed_empty_attachments_view(tmp_path):
    report = build_catalog(str(tmp_path / "empty"), str(tmp_path / "audit.duckdb"), Settings())
    with connect(report.audit_db, Settings()) as conn:
        types = {r[0]: r[1] for r in conn.execute('DESCRIBE "attachments"').fetchall()}
        assert conn.execute("SELECT count(*) FROM attachments").fetchone() == (0,)
    assert types["size"] == "BIGINT" and types["sha256"] == "VARCHAR"
    assert types["thread_id"] == "VARCHAR"


def test_the_transcript_shows_each_attachment_archived_or_not(conn, archive):
    thread_id = _thread_with_both(archive)
    text = render_transcript(thread_transcript(conn, thread_id), thread_id)
    detail = [line for line in text.split("\n") if line.startswith("    attachment: ")]
    thread_keys = [
        (cid, aid)
        for cid, aid in archive["listed"]
        if archive["contents"][cid]["threadId"] == thread_id
    ]
    assert len(detail) == len(thread_keys) >= 1
    missing = [line for line in detail if line.endswith("; not archived yet")]
    assert len(missing) == 1
    for key in thread_keys:
        row = archive["rows"].get(key)
        if row is not None:
            assert any(
                f"sha256 {row['sha256'][:16]}, {row['size']} bytes stored" in line
                for line in detail
            )


def _load(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def _files_match_manifest(out: Path, manifest: dict) -> None:
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    entries = manifest["files"] + manifest["proofs"]["files"]  # the production and its proofs
    assert on_disk == {e["path"] for e in entries} | {"manifest.json"}
    for entry in entries:
        data = (out / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_and_jsonl_exports_write_natives_and_list_the_missing_one(conn, archive, fmt):
    out = archive["tmp"] / f"prod-{fmt}"
    report = export(conn, out, source=archive["source_id"], fmt=fmt)
    manifest = _load(out)
    _files_match_manifest(out, manifest)
    shas = {row["sha256"] for row in archive["rows"].values()}
    natives = {e["path"] for e in manifest["files"] if e["path"].startswith("natives/")}
    assert natives == {f"natives/{sha}" for sha in shas}
    for sha in shas:
        assert hashlib.sha256((out / "natives" / sha).read_bytes()).hexdigest() == sha
    listed = {(a["content_id"], a["attachment_id"]): a for a in manifest["attachments"]}
    assert set(listed) == set(archive["listed"])
    gone = next(k for k in archive["listed"] if k[1] == archive["gone"])
    assert listed[gone]["status"] == "missing" and listed[gone]["native"] is None
    for key, row in archive["rows"].items():
        assert listed[key]["status"] == "archived"
        assert listed[key]["sha256"] == row["sha256"]
        assert listed[key]["native"] == f"natives/{row['sha256']}"
    assert manifest["attachments_missing"] == 1
    # The rows reference their natives.
    if fmt == "jsonl":
        records = [json.loads(line) for line in (out / "messages.jsonl").open()]
        refs = [r for rec in records for r in rec["attachment_files"]]
    else:
        with (out / "messages.csv").open(newline="") as handle:
            records = list(csv.DictReader(handle))
        refs = [r for rec in records for r in json.loads(rec["attachment_files"])]
    assert {(r["content_id"], r["attachment_id"]): r["native"] for r in refs} == {
        k: v["native"] for k, v in listed.items()
    }
    assert report.rows == len(records)


def test_eml_export_carries_the_bytes_as_mime_parts(conn, archive):
    out = archive["tmp"] / "prod-eml"
    export(conn, out, source=archive["source_id"], fmt="eml")
    manifest = _load(out)
    _files_match_manifest(out, manifest)
    parts = []
    for entry in manifest["files"]:
        message = email.message_from_bytes((out / entry["path"]).read_bytes())
        for part in message.walk():
            if part.get("X-RC-Attachment-Id"):
                parts.append(part)
    got = {
        (p["X-RC-Content-Id"], p["X-RC-Attachment-Id"]): hashlib.sha256(
            p.get_payload(decode=True)
        ).hexdigest()
        for p in parts
    }
    assert got == {k: r["sha256"] for k, r in archive["rows"].items()}
    listed = {(a["content_id"], a["attachment_id"]): a for a in manifest["attachments"]}
    for key, sha in got.items():
        assert listed[key]["sha256"] == sha and listed[key]["status"] == "archived"
        assert listed[key]["file"].startswith("threads/")
    gone = next(k for k in archive["listed"] if k[1] == archive["gone"])
    assert listed[gone]["status"] == "missing"
    assert manifest["attachments_missing"] == 1
    for part in parts:
        assert part.get_filename() is not None


def test_an_export_stops_when_the_stored_bytes_no_longer_match(conn, archive):
    row = next(iter(archive["rows"].values()))
    path = archive["ledger"].store.root / row["object_key"]
    original, mode = path.read_bytes(), path.stat().st_mode
    path.chmod(0o644)
    path.write_bytes(b"not the file")
    try:
        for fmt in ("jsonl", "eml"):
            out = archive["tmp"] / f"tampered-{fmt}"
            with pytest.raises(RuntimeError, match="not the archived"):
                export(conn, out, source=archive["source_id"], fmt=fmt)
            assert not out.exists()
    finally:
        path.write_bytes(original)
        path.chmod(mode)
