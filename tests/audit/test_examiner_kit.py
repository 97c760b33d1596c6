"""`rc-archive export --format kit`: a folder an examiner opens with plain DuckDB. One real
archive (sandbox over HTTP: identities and agents resolved, a message edited and one deleted
between crawls, attachments captured); one thread exported as a kit; then the archive and the
audit catalog are moved away, the kit is moved elsewhere, and a child Python process that
imports nothing but DuckDB opens it from a third directory and answers as the catalog did."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cli.main import main as cli_main
from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.query.examiner_kit import KIT_VIEWS, native_name, verifier_path
from pipelines.query.export import export
from pipelines.settings import Settings
from pipelines.sync.agents import sync_agents
from pipelines.sync.identities import sync_identities
from tests.attachments.support import archive_attachments, archive_contents, one_source_sandbox
from tests.sync.support import client_for

EDITED_BODY = "edited after it was archived"

# What the catalog says about the thread; the kit must say the same with nothing but DuckDB.
REFERENCED = (
    "SELECT author_identity_id FROM contents WHERE thread_id = $t "
    "UNION SELECT in_reply_to_author_identity_id FROM contents WHERE thread_id = $t"
)
CATALOG_QUERIES = {
    "contents": "SELECT * FROM contents WHERE thread_id = $t ORDER BY id, record_sha256",
    "messages": "SELECT * FROM messages WHERE thread_id = $t ORDER BY id",
    "identities_latest": f"SELECT * FROM identities_latest WHERE id IN ({REFERENCED}) ORDER BY id",
    "agents": (
        "SELECT * FROM agents WHERE extension_id IN "
        "(SELECT creator_id FROM contents WHERE thread_id = $t) ORDER BY extension_id"
    ),
    "attachments": "SELECT * FROM attachments WHERE thread_id = $t ORDER BY content_id, id",
}
KIT_QUERIES = {
    "contents": "SELECT * FROM contents ORDER BY id, record_sha256",
    "messages": "SELECT * FROM messages ORDER BY id",
    "identities_latest": "SELECT * FROM identities_latest ORDER BY id",
    "agents": "SELECT * FROM agents ORDER BY extension_id",
    "attachments": "SELECT * EXCLUDE (native) FROM attachments ORDER BY content_id, id",
    # Not in the catalog: where the kit keeps each file's bytes.
    "natives": "SELECT sha256, filename, content_type, native FROM attachments",
}

# The examiner's side: plain DuckDB, no rc-archive code (checked: none of its packages loaded).
EXAMINER = r"""
import json, sys
import duckdb

kit, queries = sys.argv[1], json.loads(sys.argv[2])
answer = {}

def rows(con, sql):
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]

con = duckdb.connect(kit + "/kit.duckdb", read_only=True)
con.execute("SET TimeZone = 'UTC'")
try:
    con.execute("SELECT count(*) FROM contents").fetchall()
    answer["without_search_path"] = "read"
except duckdb.IOException as error:
    answer["without_search_path"] = str(error).splitlines()[0]
con.execute("SET file_search_path = '" + kit.replace("'", "''") + "'")
answer["counts"] = {
    view: con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
    for view in ("contents", "messages", "identities", "identities_latest", "agents",
                 "attachments")
}
answer["rows"] = {name: rows(con, sql) for name, sql in queries.items()}
answer["versions"] = rows(con, "SELECT id, body, remotely_deleted FROM contents "
                          "ORDER BY id, last_modified_time NULLS FIRST, archived_at, batch_id")
answer["kit_info"] = dict(con.execute("SELECT name, value FROM kit_info").fetchall())
answer["views"] = sorted(r[0] for r in con.execute(
    "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall())
con.close()
# The README's Python form: the folder as the connection's file_search_path.
con = duckdb.connect(kit + "/kit.duckdb", read_only=True, config={"file_search_path": kit})
answer["config_form"] = con.execute("SELECT count(*) FROM messages").fetchone()[0]
con.close()
answer["rc_archive_modules"] = sorted(
    m for m in sys.modules if m.split(".")[0] in ("pipelines", "cli", "schemas", "sandbox"))
print(json.dumps(answer, default=str))
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kit")
    with one_source_sandbox(tmp, contents=160) as (sb, ledger, source_id):
        archive_contents(sb, ledger, source_id)
        with client_for(sb) as client:
            sync_identities(client, ledger, source_id, run_id="run-1")
            sync_agents(client, ledger, source_id, run_id="run-1")
        contents = sorted(sb.world.all_contents(source_id), key=lambda c: c["creationTime"])
        threads: dict[str, list[dict]] = {}
        for content in contents:
            threads.setdefault(content["threadId"], []).append(content)
        # The thread with the most attachments listed (and more than one message).
        thread_id = max(
            (t for t, cs in threads.items() if len(cs) > 1),
            key=lambda t: sum(len(c["attachments"]) for c in threads[t]),
        )
        edited = threads[thread_id][0]
        sb.world.edit_content(edited["id"], body=EDITED_BODY)
        deleted = sb.world.reply(edited["id"], body="soon deleted")
        archive_contents(sb, ledger, source_id, run_id="run-2")
        sb.world.delete_remotely(deleted)
        archive_contents(sb, ledger, source_id, run_id="run-3")
        archive_attachments(sb, ledger, source_id)
    catalog = build_catalog(ledger.store, str(tmp / "audit.duckdb"), Settings())
    return {
        "tmp": tmp,
        "source_id": source_id,
        "thread_id": thread_id,
        "edited": edited["id"],
        "original_body": edited["body"],
        "deleted": deleted,
        "audit_db": catalog.audit_db,
    }


def _rows(conn: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _as_json(value: Any) -> Any:
    """Values as the child process sends them (JSON, times as text in UTC)."""
    return json.loads(json.dumps(value, default=str))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _examine(kit: str, cwd: Path) -> dict[str, Any]:
    """Run the examiner's script with `cwd` as working directory, in isolated mode (no
    checkout on sys.path, no PYTHON* variables)."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", EXAMINER, kit, json.dumps(KIT_QUERIES)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def moved_away(archive):
    """The archive and its audit catalog renamed away for the test, put back after it."""
    tmp = archive["tmp"]
    moves = [(tmp / "archive", tmp / "archive-gone"), (tmp / "audit.duckdb", tmp / "audit-gone")]
    for src, dst in moves:
        src.rename(dst)
    try:
        yield
    finally:
        for src, dst in moves:
            dst.rename(src)


def test_a_kit_opens_with_plain_duckdb_after_the_archive_is_gone(archive, request):
    tmp, thread = archive["tmp"], archive["thread_id"]
    with connect(archive["audit_db"], Settings(), read_only=True) as conn:
        expected = {
            name: _as_json(_rows(conn, sql, {"t": thread})) for name, sql in CATALOG_QUERIES.items()
        }
        report = export(conn, tmp / "exports" / "kit", thread=thread, fmt="kit")
    assert report.rows == len(expected["messages"]) and report.threads == 1
    assert expected["attachments"], "the chosen thread has archived attachments"
    assert len(expected["contents"]) > len(expected["messages"])  # edits and deletion

    request.getfixturevalue("moved_away")
    kit = tmp / "elsewhere" / "kit-moved"
    kit.parent.mkdir()
    shutil.move(tmp / "exports" / "kit", kit)
    third = tmp / "third"
    third.mkdir()
    relative = os.path.relpath(kit, third)

    seen = _examine(relative, cwd=third)
    assert seen["rc_archive_modules"] == []
    # Relative paths resolve against the working directory until file_search_path is set.
    assert "data/contents.parquet" in seen["without_search_path"]
    natives = seen["rows"].pop("natives")
    assert seen["rows"] == expected
    counts = seen["counts"]
    assert counts["contents"] == len(expected["contents"])
    assert counts["messages"] == len(expected["messages"])
    assert counts["identities_latest"] == len(expected["identities_latest"]) > 0
    assert counts["identities"] >= counts["identities_latest"]
    assert counts["agents"] == len(expected["agents"]) > 0
    assert counts["attachments"] == len(expected["attachments"])
    assert seen["config_form"] == len(expected["messages"])
    assert set(KIT_VIEWS) <= set(seen["views"])

    # Inside the folder, no setting at all is needed.
    assert _examine(".", cwd=kit)["counts"] == counts

    versions: dict[str, list[tuple]] = {}
    for row in seen["versions"]:
        versions.setdefault(row["id"], []).append((row["body"], row["remotely_deleted"]))
    assert versions[archive["edited"]] == [
        (archive["original_body"], False),
        (EDITED_BODY, False),
    ]
    assert [deleted for _, deleted in versions[archive["deleted"]]] == [False, True]
    newest = {m["id"]: m for m in seen["rows"]["messages"]}
    assert newest[archive["edited"]]["body"] == EDITED_BODY

    info = seen["kit_info"]
    assert info["format"] == "rc-archive/examiner-kit/1"
    assert json.loads(info["selection"])["thread"] == thread
    assert info["archive"] == str(tmp / "archive")
    assert int(info["message_versions"]) == len(expected["contents"])

    # Every attachment file is there, named by its hash, and holds the bytes of that hash.
    assert len(natives) == len(expected["attachments"])
    for row in natives:
        assert row["native"] == "attachments/" + native_name(
            row["sha256"], row["filename"], row["content_type"]
        )
        assert _sha256(kit / row["native"]) == row["sha256"]

    # The load file lists every file of the kit, each with the right hash.
    manifest = json.loads((kit / "manifest.json").read_text())
    assert manifest["export_format"] == "kit"
    assert manifest["kit"]["messages"] == len(expected["messages"])
    for entry in manifest["files"]:
        assert _sha256(kit / entry["path"]) == entry["sha256"]
        assert (kit / entry["path"]).stat().st_size == entry["bytes"]
    listed = {entry["path"] for entry in manifest["files"]}
    on_disk = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
    assert listed == on_disk - {"manifest.json"}
    assert {"kit.duckdb", "README.md", "verify_proof.py", "data/contents.parquet"} <= listed
    rows = {entry["path"]: entry["rows"] for entry in manifest["files"]}
    assert rows["data/contents.parquet"] == len(expected["contents"])
    assert (kit / "verify_proof.py").read_bytes() == verifier_path().read_bytes()
    readme = (kit / "README.md").read_text()
    assert "file_search_path" in readme and "## Proofs" in readme


def test_attachment_file_names_keep_only_a_plain_extension():
    sha = "ab" * 32
    assert native_name(sha, "Report.PDF", "application/pdf") == f"{sha}.pdf"
    assert native_name(sha, "../../etc/passwd", None) == f"{sha}.bin"
    assert native_name(sha, "x.sh;rm -rf", "image/png") == f"{sha}.png"
    assert native_name(sha, None, "text/plain; charset=utf-8") == f"{sha}.txt"


def test_the_cli_exports_a_thread_as_a_kit(archive, monkeypatch, capsys):
    monkeypatch.setenv("AUDIT_DB", archive["audit_db"])
    monkeypatch.setenv("ARCHIVE_URI", str(archive["tmp"] / "archive"))
    monkeypatch.setenv("RC_ARCHIVE_USER", "examiner-liaison@example.com")
    out = archive["tmp"] / "cli-kit"

    # No selector: refused before anything is read or written, as for every format.
    assert cli_main(["export", "--format", "kit", "--out", str(out)]) == 2
    assert "export needs a selection" in capsys.readouterr().err
    assert not out.exists()

    code = cli_main(
        ["export", "--thread", archive["thread_id"], "--format", "kit", "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "as kit" in captured.out and "kit.duckdb" in captured.out
    manifest_bytes = (out / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    assert manifest["export_format"] == "kit"
    # Access-logged like every export: the event holds the load file's hash and file list.
    trail = sorted((archive["tmp"] / "archive" / "_access").glob("*/*.json"))
    event = json.loads(trail[-1].read_bytes())
    assert event["command"] == "export" and event["status"] == "ok"
    assert event["export"]["format"] == "kit"
    assert event["export"]["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert [f["path"] for f in event["export"]["files"]] == [f["path"] for f in manifest["files"]]
    con = duckdb.connect(
        str(out / "kit.duckdb"), read_only=True, config={"file_search_path": str(out)}
    )
    try:
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == manifest["rows"]
    finally:
        con.close()
