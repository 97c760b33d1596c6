"""`rc-archive export --format rsmf`: one Relativity Short Message Format 2.0 file per thread,
valid against Relativity's published manifest schema (tests/audit/data/rsmf/), parsed back:
events, edits, deletions, replies and the attachment bytes round-trip. One real archive (sandbox
over HTTP, a message edited and one deleted between two crawls, attachments captured)."""

from __future__ import annotations

import email
import hashlib
import io
import json
import zipfile
from email import policy
from pathlib import Path

import jsonschema
import pytest

from cli.main import main as cli_main
from pipelines.attachments.sync import archived_attachment_table
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.query.export import export
from pipelines.settings import Settings
from tests.attachments.support import (
    archive_attachments,
    archive_contents,
    one_source_sandbox,
)

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "audit" / "data" / "rsmf"
SCHEMA = json.loads((SCHEMA_DIR / "rsmf_schema_2_0_0.json").read_text(encoding="utf-8"))
SCHEMA_SHA256 = "9658446c8ced7c92b1413dac0509a7645cf1578d25e30cb88d3e9c18696e2338"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rsmf")
    with one_source_sandbox(tmp, contents=120) as (sb, ledger, source_id):
        archive_contents(sb, ledger, source_id)
        contents = sorted(sb.world.all_contents(source_id), key=lambda c: c["creationTime"])
        with_attachment = next(c for c in contents if c["attachments"])
        thread_id = with_attachment["threadId"]
        in_thread = [c for c in contents if c["threadId"] == thread_id]
        edited = in_thread[0]["id"]
        original_body = in_thread[0]["body"]
        sb.world.edit_content(edited, body="edited after it was archived")
        reply = sb.world.reply(edited, body="a reply in the same thread")
        deleted = sb.world.reply(edited, body="soon deleted")
        archive_contents(sb, ledger, source_id, run_id="run-2")
        sb.world.delete_remotely(deleted)
        archive_contents(sb, ledger, source_id, run_id="run-3")
        archive_attachments(sb, ledger, source_id)
        final = {c["id"]: c for c in sb.world.all_contents(source_id)}
    rows = archived_attachment_table(ledger, source_id).to_pylist()
    catalog = build_catalog(ledger.store, str(tmp / "audit.duckdb"), Settings())
    return {
        "tmp": tmp,
        "source_id": source_id,
        "thread_id": thread_id,
        "edited": edited,
        "original_body": original_body,
        "reply": reply,
        "deleted": deleted,
        "final": final,
        "rows": {(r["content_id"], r["id"]): r for r in rows},
        "audit_db": catalog.audit_db,
    }


def _parse(path: Path) -> tuple[email.message.EmailMessage, dict, zipfile.ZipFile]:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/zip"]
    assert parts[1].get_filename() == "rsmf.zip"
    bundle = zipfile.ZipFile(io.BytesIO(parts[1].get_payload(decode=True)))
    manifest = json.loads(bundle.read("rsmf_manifest.json"))
    return message, manifest, bundle


def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(
        SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def test_the_shipped_schema_is_relativitys_published_file():
    data = (SCHEMA_DIR / "rsmf_schema_2_0_0.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256
    assert SCHEMA["$id"] == "http://relativity.com/RSMF/2.0.0/schema.json"
    assert "kCura LLC" in (SCHEMA_DIR / "LICENSE").read_text()
    assert SCHEMA_SHA256 in (SCHEMA_DIR / "README.md").read_text()


def test_every_rsmf_file_is_valid_and_round_trips(archive):
    out = archive["tmp"] / "prod-rsmf"
    with connect(archive["audit_db"], Settings(), read_only=True) as conn:
        report = export(conn, out, source=archive["source_id"], fmt="rsmf")
        newest = {
            row[0]: row
            for row in conn.execute(
                "SELECT id, body, remotely_deleted, thread_id FROM messages WHERE source_id = ?",
                [archive["source_id"]],
            ).fetchall()
        }
    load = json.loads((out / "manifest.json").read_text())
    assert load["export_format"] == "rsmf" and report.threads == len(load["files"])
    validator = _validator()
    seen_events: dict[str, dict] = {}
    zipped: dict[tuple[str, str], str] = {}
    for entry in load["files"]:
        path = out / entry["path"]
        assert path.suffix == ".rsmf"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        message, manifest, bundle = _parse(path)
        errors = sorted(validator.iter_errors(manifest), key=str)
        assert not errors, [e.message for e in errors]
        assert message["X-RSMF-Version"] == "2.0.0"
        assert int(message["X-RSMF-EventCount"]) == len(manifest["events"]) == entry["events"]
        assert message["X-RSMF-BeginDate"] == min(e["timestamp"] for e in manifest["events"])
        participants = {p["id"] for p in manifest["participants"]}
        (conversation,) = manifest["conversations"]
        assert set(conversation["participants"]) == participants
        ids = {e["id"] for e in manifest["events"]}
        for event in manifest["events"]:
            assert event["participant"] in participants
            assert event["conversation"] == conversation["id"]
            assert event.get("parent") in ids | {None}
            seen_events[event["id"]] = event
            for attachment in event.get("attachments", []):
                data = bundle.read(attachment["id"])
                assert hashlib.sha256(data).hexdigest() == attachment["id"]
                assert len(data) == attachment["size"]
                content = next(c for c in event["custom"] if c["name"] == "content_id")["value"]
                zipped[(content, attachment["display"])] = attachment["id"]
    # Every message of the source is an event, with its newest text and deletion flag.
    assert set(seen_events) == set(newest)
    for content_id, (_, body, deleted, _) in newest.items():
        assert seen_events[content_id]["body"] == (body or "")
        assert seen_events[content_id].get("deleted", False) == bool(deleted)
    assert seen_events[archive["deleted"]]["deleted"] is True
    assert seen_events[archive["reply"]]["parent"] == archive["edited"]
    (edit,) = seen_events[archive["edited"]]["edits"]
    assert edit["previous"] == archive["original_body"]
    assert edit["new"] == "edited after it was archived"
    # Every archived attachment file travelled in the zip of its thread, byte for byte.
    expected = {
        (content_id, row["filename"] or row["id"]): row["sha256"]
        for (content_id, _), row in archive["rows"].items()
    }
    assert zipped == expected
    listed = {(a["content_id"], a["attachment_id"]): a for a in load["attachments"]}
    assert all(a["file"].endswith(".rsmf") for a in listed.values() if a["status"] == "archived")


def test_the_schema_refuses_what_a_review_platform_would(archive):
    out = archive["tmp"] / "prod-rsmf-thread"
    with connect(archive["audit_db"], Settings(), read_only=True) as conn:
        export(conn, out, thread=archive["thread_id"], fmt="rsmf")
    (entry,) = json.loads((out / "manifest.json").read_text())["files"]
    _, manifest, _ = _parse(out / entry["path"])
    broken = json.loads(json.dumps(manifest))
    broken["events"][0]["type"] = "tweet"
    del broken["conversations"][0]["platform"]
    messages = {e.message for e in _validator().iter_errors(broken)}
    assert any("tweet" in m for m in messages) and any("platform" in m for m in messages)


def test_the_cli_exports_a_thread_as_rsmf(archive, monkeypatch, capsys):
    monkeypatch.setenv("AUDIT_DB", archive["audit_db"])
    monkeypatch.setenv("ARCHIVE_URI", str(archive["tmp"] / "archive"))
    out = archive["tmp"] / "cli-rsmf"
    code = cli_main(
        ["export", "--thread", archive["thread_id"], "--format", "rsmf", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    (path,) = (out / "threads").glob("*.rsmf")
    _, manifest, _ = _parse(path)
    assert not list(_validator().iter_errors(manifest))
