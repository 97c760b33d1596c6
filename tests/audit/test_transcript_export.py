"""Thread transcripts as of a time; eDiscovery exports with a verifiable load file."""

from __future__ import annotations

import csv
import email
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.query.export import export
from pipelines.query.formatting import NotReadOnlyQuery
from pipelines.query.sql import sql_command
from pipelines.query.transcript import ThreadNotFound, render_transcript, thread_transcript
from pipelines.settings import Settings
from tests.audit import expected
from tests.audit.dataset import CUST_A, S1, T0


def test_transcript_now_shows_latest_versions(conn):
    lines = thread_transcript(conn, "t-b1")
    assert [line.content_id for line in lines] == ["c7", "c8", "c9"]
    c7 = lines[0]
    assert c7.body == "my account number is [removed]"
    assert c7.edited and c7.deleted and c7.versions_seen == 3
    assert lines[1].agent == "Dana Agent" and lines[1].direction == "outbound"
    text = render_transcript(lines, "t-b1")
    assert "EDITED (3 versions)" in text and "DELETED ON CHANNEL" in text


def test_transcript_as_of_shows_the_thread_as_it_was(conn):
    # 2 days + 45 min: c7 still had its first body, c8 existed, c9 not yet written.
    lines = thread_transcript(conn, "t-b1", T0 + timedelta(days=2, minutes=45))
    assert [line.content_id for line in lines] == ["c7", "c8"]
    assert lines[0].body == "my account number is 999 and pin 4321"
    assert not lines[0].edited and not lines[0].deleted
    # After the edit, before the deletion.
    lines = thread_transcript(conn, "t-b1", T0 + timedelta(days=2, minutes=90))
    assert lines[0].body == "my account number is [removed]"
    assert lines[0].edited and not lines[0].deleted


def test_transcript_attachments_and_naive_as_of(conn):
    lines = thread_transcript(conn, "t-a1", datetime(2026, 3, 2, 9, 11))  # naive = UTC
    assert [line.content_id for line in lines] == ["c1", "c2", "c3"]
    assert lines[0].status == "Replied"  # the status moved at 09:05
    assert thread_transcript(conn, "t-a1", datetime(2026, 3, 2, 9, 4))[0].status == "New"
    assert lines[2].attachments == ["photo.jpg (image/jpeg, 2048 bytes)"]


def test_transcript_before_first_message_is_empty(conn):
    assert thread_transcript(conn, "t-a1", T0 - timedelta(seconds=1)) == []
    assert "no messages" in render_transcript([], "t-a1", T0)


def test_unknown_thread_is_a_clear_error(conn):
    with pytest.raises(ThreadNotFound, match="'t-nope' is not in the audit catalog"):
        thread_transcript(conn, "t-nope")


def _check_manifest(out_dir):
    manifest = json.loads((out_dir / "manifest.json").read_text())
    entries = manifest["files"] + manifest["proofs"]["files"]  # the production and its proofs
    for entry in entries:
        data = (out_dir / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    listed = {entry["path"] for entry in entries} | {"manifest.json"}
    on_disk = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()}
    assert listed == on_disk
    return manifest


def test_export_csv_by_identity(conn, dataset, tmp_path):
    report = export(conn, tmp_path / "csv", identity=CUST_A, fmt="csv")
    manifest = _check_manifest(tmp_path / "csv")
    with open(tmp_path / "csv" / "messages.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Alice's WhatsApp identity only (export filters one identity, not the person's group).
    want = [
        i
        for i in expected.customer_history(dataset, CUST_A)
        if expected.latest(dataset)[i]["source_id"] == S1
    ]
    assert [r["id"] for r in rows] == want
    assert manifest["rows"] == report.rows == len(want)
    assert manifest["query"]["parameters"] == {"identity": CUST_A}
    assert "$identity" in manifest["query"]["sql"]


def test_export_jsonl_by_period_and_source(conn, dataset, tmp_path):
    start, end = T0, T0 + timedelta(days=3)
    export(conn, tmp_path / "j", source=S1, from_=start, to=end, fmt="jsonl")
    manifest = _check_manifest(tmp_path / "j")
    lines = (tmp_path / "j" / "messages.jsonl").read_text().splitlines()
    got = [json.loads(line)["id"] for line in lines]
    want = sorted(
        (
            m
            for m in expected.latest(dataset).values()
            if m["source_id"] == S1 and start <= m["creation_time"] < end
        ),
        key=lambda m: (m["creation_time"], m["id"]),
    )
    assert got == [m["id"] for m in want]
    assert manifest["files"][0]["rows"] == len(got)


def test_export_eml_one_file_per_thread(conn, tmp_path):
    report = export(conn, tmp_path / "e", source=S1, fmt="eml")
    manifest = _check_manifest(tmp_path / "e")
    assert report.threads == 3 and len(manifest["files"]) == 3
    thread_file = next(p for p in report.files if "t-a1" in p)
    message = email.message_from_bytes((tmp_path / "e" / thread_file).read_bytes())
    assert message["Subject"].startswith("Order help")
    assert "Alice Customer" in message["From"]
    parts = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    assert len(parts) == 5
    bodies = "\n".join(part.get_payload(decode=True).decode() for part in parts)
    assert "attachment: photo.jpg (image/jpeg, 2048 bytes)" in bodies


def test_export_refuses_a_non_empty_directory(conn, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "old.csv").write_text("old")
    with pytest.raises(FileExistsError, match="not empty"):
        export(conn, tmp_path / "x")


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_sql_command_formats(local_catalog, fmt):
    out, rows = sql_command(
        local_catalog.audit_db,
        "SELECT id, body FROM messages WHERE id = $id",
        {"id": "c1"},
        fmt,
        Settings(),
    )
    assert rows == 1
    assert "Hello, I need help with my order" in out
    if fmt == "json":
        assert json.loads(out) == [{"id": "c1", "body": "Hello, I need help with my order"}]


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE x AS SELECT 1",
        "COPY (SELECT * FROM messages) TO '/tmp/leak.csv'",
        "ATTACH 'other.duckdb'",
        "SELECT 1; DROP VIEW messages",
    ],
)
def test_sql_command_refuses_non_read_statements(local_catalog, statement):
    with pytest.raises(NotReadOnlyQuery, match="read-only|one query"):
        sql_command(local_catalog.audit_db, statement, None, "table", Settings())


def test_as_of_in_utc(conn):
    lines = thread_transcript(conn, "t-a2", datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    assert [line.content_id for line in lines] == ["c6"]
