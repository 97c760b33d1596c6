"""A production of one thread checked offline: a real archive (the sandbox over HTTP: an edit, a
deletion, attachments), its checkpoint cosigned by two real witnesses over HTTP, the thread
exported as RSMF and as an examiner kit, then the archive and its catalog deleted. The
stand-alone verifier, copied alone into an empty folder and run with `python -I`, checks every
produced version against the cosigned checkpoint, and names each alteration."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.catalog.build import build_catalog
from pipelines.catalog.connection import connect
from pipelines.integrity.certificate import keygen, load_private_key
from pipelines.integrity.cosigning_witness import CosigningWitness, WitnessServerThread
from pipelines.integrity.signed_note import COSIGNATURE_V1, generate_signer, signer_from_ed25519
from pipelines.integrity.transparency import Cosigner, publish_checkpoint
from pipelines.query.examiner_kit import verifier_path
from pipelines.query.export import export
from pipelines.settings import Settings
from pipelines.sync.identities import sync_identities
from tests.attachments.support import archive_attachments, archive_contents, one_source_sandbox
from tests.sync.support import client_for

LOG_NAME = "archive.example.com/rc"


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """(folder of the productions, the verifier's key arguments, the thread's version count)."""
    tmp = tmp_path_factory.mktemp("offline")
    private, _ = keygen(tmp / "attest.pem")
    signer = signer_from_ed25519(LOG_NAME, load_private_key(private))
    witnesses = [generate_signer(f"w{i}.example.org", COSIGNATURE_V1) for i in (1, 2)]
    servers = [
        WitnessServerThread(
            CosigningWitness(tmp / w.name, w, {LOG_NAME: signer.verifier()})
        ).start()
        for w in witnesses
    ]
    try:
        with one_source_sandbox(tmp, contents=80) as (sb, ledger, source_id):
            archive_contents(sb, ledger, source_id)
            with client_for(sb) as client:
                sync_identities(client, ledger, source_id, run_id="run-1")
            contents = sorted(sb.world.all_contents(source_id), key=lambda c: c["creationTime"])
            first = contents[0]
            sb.world.edit_content(first["id"], body="edited after it was archived")
            deleted = sb.world.reply(first["id"], body="soon deleted")
            archive_contents(sb, ledger, source_id, run_id="run-2")
            sb.world.delete_remotely(deleted)
            archive_contents(sb, ledger, source_id, run_id="run-3")
            archive_attachments(sb, ledger, source_id)
            cosigners = [
                Cosigner(w.verifier(), s.url) for w, s in zip(witnesses, servers, strict=True)
            ]
            published = publish_checkpoint(ledger, source_id, signer, cosigners, 2, timeout=10)
            assert set(published.cosigned_by) == {"w1.example.org", "w2.example.org"}
        catalog = build_catalog(ledger.store, str(tmp / "audit.duckdb"), Settings())
        out = tmp / "productions"
        with connect(catalog.audit_db, Settings(), read_only=True) as conn:
            thread = conn.execute(
                "SELECT thread_id FROM contents WHERE id = ?", [first["id"]]
            ).fetchone()[0]
            versions = conn.execute(
                "SELECT count(*) FROM (SELECT DISTINCT id, record_sha256 FROM contents "
                "WHERE thread_id = ?)",
                [thread],
            ).fetchone()[0]
            certificate = tmp / "certificate.json"
            certificate.write_text('{"certificate": "a signed certificate, as attest writes"}\n')
            export(conn, out / "rsmf", thread=thread, fmt="rsmf")
            export(conn, out / "kit", thread=thread, fmt="kit", certificates=[certificate])
    finally:
        for server in servers:
            server.stop()
    # The archive and its catalog are gone: only the productions and the keys remain.
    shutil.rmtree(ledger.store.root)
    Path(catalog.audit_db).unlink()
    keys = ["--log-key", signer.verifier().vkey()]
    for witness in witnesses:
        keys += ["--witness-key", witness.verifier().vkey()]
    return out, [*keys, "--quorum", "2"], versions


def _verify(tmp_path: Path, folder: Path, keys: list[str]) -> subprocess.CompletedProcess:
    """The verifier copied alone into an empty folder, run isolated (no checkout, no
    site-packages of the project)."""
    alone = tmp_path / "examiner"
    alone.mkdir(exist_ok=True)
    script = alone / "verify_proof.py"
    shutil.copyfile(verifier_path(), script)
    return subprocess.run(
        [sys.executable, "-I", str(script), str(folder), *keys],
        cwd=alone,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("fmt", ["rsmf", "kit"])
def test_every_produced_version_is_proven_offline(production, tmp_path, fmt):
    out, keys, versions = production
    folder = out / fmt
    lines = (folder / "proofs" / "versions.jsonl").read_text().splitlines()
    assert len(lines) == versions > 2  # every version of the thread, the edit and deletion too
    assert (folder / "proofs" / "unproven.jsonl").read_text() == ""
    done = _verify(tmp_path, folder, keys)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith(f"OK: {versions} versions")


def test_the_kit_carries_the_verifier_that_checks_it(production, tmp_path):
    out, keys, versions = production
    kit = out / "kit"
    assert (kit / "proofs" / "certificates" / "certificate.json").exists()
    listed = {e["path"] for e in json.loads((kit / "manifest.json").read_text())["files"]}
    assert "proofs/certificates/certificate.json" in listed
    done = subprocess.run(
        [sys.executable, "-I", "verify_proof.py", ".", *keys],
        cwd=kit,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _copy(production, tmp_path: Path) -> Path:
    out, _, _ = production
    copy = tmp_path / "altered"
    shutil.copytree(out / "rsmf", copy)
    return copy


def test_an_altered_message_text_is_named(production, tmp_path):
    copy = _copy(production, tmp_path)
    path = copy / "proofs" / "versions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    record = json.loads(rows[0]["raw_json"])
    record["body"] = "I never said that."
    rows[0]["raw_json"] = json.dumps(record)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = _verify(tmp_path, copy, production[1])
    assert done.returncode == 1
    assert rows[0]["content_id"] in done.stdout + done.stderr


def test_an_altered_production_file_is_named(production, tmp_path):
    copy = _copy(production, tmp_path)
    rsmf = next((copy / "threads").glob("*.rsmf"))
    data = bytearray(rsmf.read_bytes())
    data[len(data) // 2] ^= 1
    rsmf.write_bytes(bytes(data))
    done = _verify(tmp_path, copy, production[1])
    assert done.returncode == 1
    assert rsmf.name in done.stdout + done.stderr


def test_a_checkpoint_without_the_witnesses_quorum_fails(production, tmp_path):
    out, keys, _ = production
    other = generate_signer("w3.example.org", COSIGNATURE_V1).verifier().vkey()
    stricter = [*keys[:-2], "--witness-key", other, "--quorum", "3"]
    done = _verify(tmp_path, out / "rsmf", stricter)
    assert done.returncode == 1


def test_a_file_added_to_the_production_is_named(production, tmp_path):
    copy = _copy(production, tmp_path)
    (copy / "threads" / "extra.rsmf").write_bytes(b"planted")
    done = _verify(tmp_path, copy, production[1])
    assert done.returncode == 1
    assert "threads/extra.rsmf is not listed" in done.stdout + done.stderr
