"""The access trail: every audit command leaves a write-once, hash-chained event before its
output; a trail that cannot be written stops the command; the chain is checked; the catalog's
`access_log` view shows the events (real local store, real DuckDB)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.main import main
from pipelines.archive.store import LocalStore
from pipelines.catalog.build import build_catalog
from pipelines.governance.access_trail import AccessTrail, verify_trail
from pipelines.settings import Settings
from tests.governance.support import catalog_rows


def _events(root: Path) -> list[dict]:
    return [json.loads(path.read_bytes()) for path in sorted((root / "_access").glob("*/*.json"))]


def test_each_audit_command_appends_a_chained_event(archive, tmp_path, capsys):
    audit_db = os.environ["AUDIT_DB"]
    thread = catalog_rows(audit_db, "SELECT min(thread_id) FROM messages")[0][0]
    assert main(["sql", "SELECT id FROM messages WHERE thread_id = $1", "--param", thread]) == 0
    rows_shown = capsys.readouterr().out
    assert main(["thread", thread]) == 0
    assert (
        main(["export", "--thread", thread, "--format", "jsonl", "--out", str(tmp_path / "p")]) == 0
    )
    capsys.readouterr()
    assert main(["sql", "SELECT nope FROM messages"]) == 2  # a failing query is logged too
    assert len(capsys.readouterr().err.strip().splitlines()) == 1

    events = _events(archive)
    assert [e["command"] for e in events] == ["sql", "thread", "export", "sql"]
    assert [e["seq"] for e in events] == [0, 1, 2, 3]
    assert {e["user"] for e in events} == {"alice@example.com"}
    assert {e["user_from"] for e in events} == {"RC_ARCHIVE_USER"}
    first, transcript, exported, failed = events
    assert first["query"].startswith("SELECT id FROM messages") and first["parameters"] == [thread]
    assert first["status"] == "ok" and first["rows"] >= 1
    assert f"({first['rows']} rows)" in rows_shown
    assert transcript["parameters"]["thread_id"] == thread and transcript["rows"] >= 1
    manifest_bytes = (tmp_path / "p" / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    assert exported["export"]["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert [f["sha256"] for f in exported["export"]["files"]] == [
        f["sha256"] for f in manifest["files"]
    ]
    assert exported["rows"] == manifest["rows"]
    assert failed["status"] == "failed" and "nope" in failed["error"] and failed["rows"] is None

    # The chain: each event names its predecessor's key and SHA-256.
    paths = sorted((archive / "_access").glob("*/*.json"))
    for before, after in zip(paths, paths[1:], strict=False):
        body = json.loads(after.read_bytes())
        assert body["prev_sha256"] == hashlib.sha256(before.read_bytes()).hexdigest()
    assert verify_trail(LocalStore(archive)) == (4, [])
    assert main(["access", "verify"]) == 0
    assert "4 events" in capsys.readouterr().out

    # The catalog shows them; the query reading access_log is itself the fifth event.
    build_catalog(archive, audit_db, Settings())
    assert (
        main(
            ["sql", "SELECT command, status, rows FROM access_log ORDER BY seq", "--format", "csv"]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "command,status,rows" and [line.split(",")[:2] for line in out[1:]] == [
        ["sql", "ok"],
        ["thread", "ok"],
        ["export", "ok"],
        ["sql", "failed"],
    ]
    assert len(_events(archive)) == 5


def test_the_catalog_reads_only_new_events(archive):
    audit_db = os.environ["AUDIT_DB"]
    assert main(["sql", "SELECT 1"]) == 0
    first = build_catalog(archive, audit_db, Settings())
    assert main(["sql", "SELECT 2"]) == 0
    from pipelines.catalog.governance_tables import previous_governance, refresh_governance

    previous = previous_governance(Path(audit_db), first.archive_uri)
    assert previous is not None and previous.access.num_rows == 1
    state = refresh_governance(LocalStore(archive), previous)
    assert state.access_read == 1 and state.access.num_rows == 2


def test_an_unwritable_trail_stops_the_command_before_any_output(archive, capsys):
    (archive / "_access").write_text("not a folder")  # the trail's folder cannot be made
    assert main(["sql", "SELECT count(*) FROM messages"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "access trail" in err, err
    assert main(["thread", "any"]) == 2
    assert capsys.readouterr().out == ""


def test_verify_finds_a_changed_or_removed_event(archive, capsys):
    for query in ("SELECT 1", "SELECT 2", "SELECT 3"):
        assert main(["sql", query]) == 0
    capsys.readouterr()
    paths = sorted((archive / "_access").glob("*/*.json"))
    body = json.loads(paths[1].read_bytes())
    body["query"] = "SELECT 'nothing to see'"
    os.chmod(paths[1], 0o644)
    paths[1].write_text(json.dumps(body))
    assert main(["access", "verify"]) == 3
    out = capsys.readouterr().out
    assert "chain_broken" in out and paths[2].name in out
    paths[1].unlink()
    count, findings = verify_trail(LocalStore(archive))
    # The record after the hole names one that is gone: off the chain, with the seq gap.
    assert count == 2 and {f.kind for f in findings} == {"seq_gap", "chain_broken", "off_chain"}
    assert [f.key for f in findings if f.kind == "off_chain"] == [
        paths[2].relative_to(archive).as_posix()
    ]


def test_a_witness_sees_the_newest_events_deleted(archive, tmp_path, capsys, monkeypatch):
    """The chain alone cannot show its last events removed; the witness can."""
    monkeypatch.setenv("ARCHIVE_WITNESS_URI", str(tmp_path / "witness"))
    for query in ("SELECT 1", "SELECT 2", "SELECT 3"):
        assert main(["sql", query]) == 0
    assert main(["access", "verify"]) == 0
    capsys.readouterr()
    newest = sorted((archive / "_access").glob("*/*.json"))[-1]
    newest.unlink()
    assert main(["access", "verify"]) == 3
    out = capsys.readouterr().out
    assert "truncated" in out and newest.name in out
    monkeypatch.delenv("ARCHIVE_WITNESS_URI")
    assert verify_trail(LocalStore(archive))[1] == []  # without it, nothing shows


def test_the_chain_runs_across_days_and_another_writer_continues_it(tmp_path):
    store = LocalStore(tmp_path / "arc")
    moments = iter(
        [datetime(2026, 5, 1, 23, 59, tzinfo=UTC) + timedelta(minutes=i) for i in range(4)]
    )
    trail = AccessTrail(store, Settings(user="bob"), clock=lambda: next(moments))
    keys = [trail.append({"command": "sql", "status": "ok"}).key for _ in range(3)]
    assert keys == [
        "_access/2026-05-01/0000000000.json",
        "_access/2026-05-02/0000000000.json",
        "_access/2026-05-02/0000000001.json",
    ]
    second = json.loads(store.get(keys[1]))
    assert second["prev_key"] == keys[0]
    # Another process (its own AccessTrail) continues the same day's chain.
    stale = AccessTrail(store, Settings(), clock=lambda: datetime(2026, 5, 2, 1, tzinfo=UTC))
    assert stale.append({"command": "thread", "status": "ok"}).key.endswith("0000000002.json")
    assert verify_trail(store) == (4, [])
