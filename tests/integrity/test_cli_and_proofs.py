"""The commands end to end on a real local archive: keygen, attest (+ HTML), verify with a
witness and a certificate (exit codes 0/2/3), prove, and docs/verify_proof.py run on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main as cli_main
from tests.archive.support import SOURCE_ID
from tests.integrity.support import ATTACKS, PERIOD, new_archive

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docs" / "verify_proof.py"


@pytest.fixture
def setup(tmp_path, monkeypatch, capsys):
    archive = new_archive(tmp_path)
    monkeypatch.setenv("ARCHIVE_URI", str(archive.root))
    monkeypatch.delenv("ARCHIVE_WITNESS_URI", raising=False)
    key = tmp_path / "keys" / "attest.pem"
    key.parent.mkdir()
    assert cli_main(["keygen", "--out", str(key)]) == 0
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    cert = tmp_path / "cert.json"
    code = cli_main(
        ["attest", "--period", PERIOD, "--source", SOURCE_ID, "--key", str(key), "--out", str(cert)]
    )
    assert code == 0
    capsys.readouterr()
    return archive, key, cert


def _verify(*extra: str) -> int:
    return cli_main(["verify", *extra])


def test_attest_writes_certificate_and_html(setup):
    archive, key, cert = setup
    signed = json.loads(cert.read_text())
    assert signed["certificate"]["source_id"] == SOURCE_ID
    page = cert.with_suffix(".html").read_text()
    assert "<svg" in page and signed["certificate"]["merkle"]["root"] in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_verify_says_plainly_it_cannot_see_truncation_without_a_witness(setup, capsys):
    assert _verify() == 0
    out = capsys.readouterr().out
    assert "no witness" in out and "cannot detect" in out


def test_verify_with_witness_and_certificate(setup, capsys):
    archive, key, cert = setup
    witness = str(archive.witness.store.root)
    pub = f"{key}.pub"
    assert _verify("--witness", witness, "--certificate", str(cert), "--public-key", pub) == 0
    assert "holds" in capsys.readouterr().out
    tamper, kind = ATTACKS["truncate_tail"]
    tamper(archive.store)
    assert _verify() == 0  # the archive alone still says OK
    assert _verify("--witness", witness) == 3
    assert kind in capsys.readouterr().out
    assert _verify("--certificate", str(cert), "--public-key", pub) == 3
    assert "certified_changed" in capsys.readouterr().out


def test_certificate_refusals_exit_codes(setup, tmp_path, capsys, monkeypatch):
    archive, key, cert = setup
    other = tmp_path / "other.pem"
    assert cli_main(["keygen", "--out", str(other)]) == 0
    assert _verify("--certificate", str(cert), "--public-key", f"{other}.pub") == 3
    assert "another key" in capsys.readouterr().err
    modified = tmp_path / "modified.json"
    signed = json.loads(cert.read_text())
    signed["certificate"]["merkle"]["tree_size"] -= 1
    modified.write_text(json.dumps(signed))
    assert _verify("--certificate", str(modified), "--public-key", f"{key}.pub") == 3
    assert "modified" in capsys.readouterr().err
    elsewhere = new_archive(tmp_path, "elsewhere")
    monkeypatch.setenv("ARCHIVE_URI", str(elsewhere.root))
    assert _verify("--certificate", str(cert), "--public-key", f"{key}.pub") == 2
    err = capsys.readouterr().err
    assert "is for archive" in err and len(err.strip().splitlines()) == 1


def test_prove_and_standalone_script(setup, tmp_path, capsys):
    archive, key, cert = setup
    content_id = f"{5:024x}"
    assert (
        cli_main(["prove", content_id, "--certificate", str(cert), "--public-key", f"{key}.pub"])
        == 0
    )
    proof = json.loads(capsys.readouterr().out)
    assert proof["content_id"] == content_id and len(proof["versions"]) == 1
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))

    def run(*args: str) -> subprocess.CompletedProcess:
        # Run from an empty directory with no PYTHONPATH: the script needs the stdlib only.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return subprocess.run(
            [sys.executable, "-I", str(SCRIPT), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
        )

    ok = run(str(path), "--public-key", f"{key}.pub")
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stdout + ok.stderr
    assert "signature verified" in ok.stdout
    assert run(str(path)).returncode == 0

    changed = json.loads(path.read_text())
    digest = changed["versions"][0]["record_sha256"]
    changed["versions"][0]["record_sha256"] = ("0" if digest[0] != "0" else "1") + digest[1:]
    path.write_text(json.dumps(changed))
    bad = run(str(path))
    assert bad.returncode == 1 and "FAILED" in bad.stdout and "not included" in bad.stdout

    forged = json.loads(json.dumps(proof))
    forged["certificate"]["certificate"]["counts"]["contents"]["total"] = 1
    path.write_text(json.dumps(forged))
    bad = run(str(path), "--public-key", f"{key}.pub")
    assert bad.returncode == 1 and "signature does not verify" in bad.stdout


def test_prove_unknown_content_is_bad_input(setup, capsys):
    archive, key, cert = setup
    assert cli_main(["prove", "f" * 24, "--certificate", str(cert)]) == 2
    assert "no version in the certified tree" in capsys.readouterr().err
