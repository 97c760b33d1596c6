"""eDiscovery exports of hostile text: unique file names, header values that cannot inject,
formula-neutral CSV, all-or-nothing directories, refused ids, and a load file that names the
archive, its ledger heads and the tool version."""

from __future__ import annotations

import csv
import email
import email.policy
import errno
import hashlib
import importlib.metadata
import json
import re
from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest

from cli.main import main
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.catalog.connection import connect
from pipelines.query import export as export_module
from pipelines.query.export import ExportSelectionError, export
from pipelines.settings import Settings
from tests.audit.dataset import S1, S2, T0
from tests.audit.hostile_dataset import (
    COLLIDING_THREADS,
    EVIL_AGENT,
    EVIL_NAME,
    EVIL_TITLE,
    FORMULAS,
    HOSTILE_BODY,
    HOSTILE_THREAD,
    build_hostile_catalog,
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return build_hostile_catalog(tmp_path_factory.mktemp("hostile-export"))


@pytest.fixture
def hconn(hostile):
    connection = connect(hostile.audit_db, Settings())
    try:
        yield connection
    finally:
        connection.close()


def _load_file(out_dir):
    """The manifest, checked against the files on disk (every file listed, every hash right)."""
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


def _decoded(value) -> str:
    """A header's exact value: unfolded (RFC 5322 2.2.3), then its encoded words decoded."""
    return str(make_header(decode_header(re.sub(r"\r?\n(?=[ \t])", "", str(value)).strip())))


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name)


def test_threads_whose_safe_names_collide_get_their_own_files(hconn, tmp_path):
    report = export(hconn, tmp_path / "e", source=S1, fmt="eml")
    manifest = _load_file(tmp_path / "e")
    assert len(set(report.files)) == len(report.files) == report.threads == manifest["threads"]
    by_thread = {}
    for path in report.files:
        message = email.message_from_bytes((tmp_path / "e" / path).read_bytes())
        by_thread[_decoded(message["X-RC-Thread-Id"])] = path
    for thread in COLLIDING_THREADS:
        message = email.message_from_bytes((tmp_path / "e" / by_thread[thread]).read_bytes())
        bodies = [
            p.get_payload(decode=True).decode() for p in message.walk() if not p.is_multipart()
        ]
        assert bodies == [f"body of {thread}\n"]
    assert sum(m["rows"] for m in manifest["files"]) == manifest["rows"]


@pytest.mark.parametrize("policy", [email.policy.compat32, email.policy.default])
def test_cr_lf_in_titles_and_names_cannot_inject_headers(hconn, tmp_path, policy):
    report = export(hconn, tmp_path / "e", thread=HOSTILE_THREAD, fmt="eml")
    _load_file(tmp_path / "e")
    raw = (tmp_path / "e" / report.files[0]).read_bytes()
    message = email.message_from_bytes(raw, policy=policy)
    parts = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    assert len(parts) == 2
    for entity in [message, *parts]:
        names = {name.lower() for name in entity}
        assert not names & {"bcc", "x-injected"}, names
    first, reply = parts
    assert _decoded(first["Subject"]) == EVIL_TITLE
    assert _decoded(first["X-RC-Author-Name"]) == EVIL_NAME
    assert _decoded(reply["X-RC-Agent"]) == EVIL_AGENT
    assert _decoded(message["Subject"]) == f"{EVIL_TITLE} [WhatsApp {S1}]"
    assert first.get_payload(decode=True).decode() == HOSTILE_BODY + "\n"
    # The display name cannot hold CR/LF (RFC 5322): they are shown as escapes there.
    assert parseaddr(_decoded(first["From"]))[0].startswith("Mallory\\r\\nBcc: victim")
    assert b"\nBcc:" not in raw and b"\nX-Injected:" not in raw


def test_csv_export_neutralises_formulas_and_jsonl_stays_exact(hconn, tmp_path):
    export(hconn, tmp_path / "c", thread="t-formulas", fmt="csv")
    manifest = _load_file(tmp_path / "c")
    assert "OWASP" in manifest["csv_formula_guard"]
    with open(tmp_path / "c" / "messages.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["body"] for row in rows] == ["'" + formula for formula in FORMULAS]
    assert rows[0]["creation_time"] == "2026-03-02T09:20:00.000Z"
    export(hconn, tmp_path / "j", thread="t-formulas", fmt="jsonl")
    lines = (tmp_path / "j" / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["body"] for line in lines] == list(FORMULAS)


def test_a_failed_export_leaves_nothing_and_the_rerun_works(hconn, tmp_path, monkeypatch):
    # Fault injection: the disk fills up after the first thread file is written.
    written = []
    real_write = export_module._write_eml

    def write_then_fill_disk(path, records):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, records)
        written.append(path)

    monkeypatch.setattr(export_module, "_write_eml", write_then_fill_disk)
    with pytest.raises(OSError, match="No space left"):
        export(hconn, tmp_path / "prod", source=S1, fmt="eml")
    assert written and not (tmp_path / "prod").exists() and not _leftovers(tmp_path)
    monkeypatch.undo()
    report = export(hconn, tmp_path / "prod", source=S1, fmt="eml")
    assert report.threads == len(_load_file(tmp_path / "prod")["files"]) > 1
    assert not _leftovers(tmp_path)


def test_an_existing_empty_directory_is_filled(hconn, tmp_path):
    (tmp_path / "empty").mkdir()
    report = export(hconn, tmp_path / "empty", thread=HOSTILE_THREAD, fmt="jsonl")
    assert report.rows == 2 and _load_file(tmp_path / "empty")["rows"] == 2


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"source": "not-hex"}, "export source 'not-hex' is not a source id"),
        ({"source": ""}, "is not a source id"),
        ({"source": "5f00000000000000000000ff"}, "no archived message has source"),
        ({"thread": "t-nope"}, "no archived message has thread 't-nope'"),
        ({"thread": "t-a1\n"}, "export thread 't-a1\\n' is not a thread id"),
        ({"thread": ""}, "is not a thread id"),
        ({"thread": "x" * 257}, "is not a thread id"),
        ({"identity": "id-nobody"}, "no archived message has identity"),
        ({"source": S2, "thread": HOSTILE_THREAD}, "no archived message has source"),
    ],
)
def test_ids_that_are_not_ids_or_not_archived_are_refused(hconn, tmp_path, filters, reason):
    with pytest.raises(ExportSelectionError, match=re.escape(reason)) as caught:
        export(hconn, tmp_path / "out", fmt="csv", **filters)
    assert len(str(caught.value).splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_known_ids_with_nothing_in_the_period_export_an_empty_production(hconn, tmp_path):
    report = export(hconn, tmp_path / "none", source=S1, to=T0, fmt="csv")
    assert report.rows == 0 and _load_file(tmp_path / "none")["rows"] == 0


def test_load_file_names_the_archive_ledger_heads_and_tool(hconn, hostile, tmp_path):
    export(hconn, tmp_path / "p", thread=HOSTILE_THREAD, fmt="jsonl")
    manifest = _load_file(tmp_path / "p")
    assert manifest["archive"]["uri"] == hostile.archive_uri
    assert manifest["archive"]["catalog_built_at"].endswith("Z")
    assert manifest["tool"] == {
        "name": "rc-archive",
        "version": importlib.metadata.version("rc-archive"),
    }
    ledger = Ledger(open_store(hostile.archive_uri, Settings()))
    want = []
    for table in ("agents", "contents", "identities"):
        for stream in ledger.streams(table):
            head = ledger.head(table, stream)
            want.append((table, stream, head.seq, head.sha256))
    got = [
        (h["table"], h["stream"], h["seq"], h["manifest_sha256"]) for h in manifest["ledger_heads"]
    ]
    assert got == sorted(want) and len(got) == 3


def test_cli_refuses_a_bad_source_in_one_line(hostile, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUDIT_DB", str(hostile.audit_db))
    argv = ["export", "--source", "not-hex", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is not a source id" in err
    assert main(["export", "--thread", "t-nope", "--out", str(tmp_path / "o")]) == 2
    assert "no archived message has thread" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
