"""A certificate carries a full reconciliation against the API (the sandbox over HTTP), signed
with the rest: complete, a lost write named by count and digest, or plainly not performed."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from cli.main import main as cli_main
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore
from pipelines.sync.contents import sync_contents
from schemas.contents import normalise_contents
from schemas.ids import source_stream
from tests.sync.support import client_for


@pytest.fixture
def keys(tmp_path, capsys):
    key = tmp_path / "keys" / "attest.pem"
    key.parent.mkdir()
    assert cli_main(["keygen", "--out", str(key)]) == 0
    capsys.readouterr()
    return key


def _attest(key, period: str, out, *extra: str) -> dict:
    assert (
        cli_main(["attest", "--period", period, "--key", str(key), "--out", str(out), *extra]) == 0
    )
    return json.loads(out.read_text())


def _use(monkeypatch, sb, root) -> None:
    for name, value in sb.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ARCHIVE_URI", str(root))
    monkeypatch.delenv("ARCHIVE_WITNESS_URI", raising=False)


def test_a_complete_archive_is_certified_complete_against_the_api(
    sandbox_factory, tmp_path, monkeypatch, keys, capsys
):
    sb = sandbox_factory(contents=400, sources=1)
    source_id = sb.world.source_ids[0]
    root = tmp_path / "archive"
    ledger = Ledger(LocalStore(root))
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
    _use(monkeypatch, sb, root)
    period = datetime.now(UTC).strftime("%Y-%m")
    signed = _attest(keys, period, tmp_path / "cert.json")
    fact = signed["certificate"]["reconcile"]
    assert fact["performed"] and fact["complete"] and fact["mode"] == "full"
    assert fact["missing"] == 0 and fact["listing_complete"]
    assert fact["api_ids_checked"] > 0.9 * len(sb.world.content_ids(source_id))
    assert fact["missing_ids_sha256"] == hashlib.sha256(b"").hexdigest()
    assert "reconcile at" in capsys.readouterr().out
    page = (tmp_path / "cert.html").read_text()
    assert "was <b>complete</b> against the API" in page
    counts = signed["certificate"]["counts"]
    lag = counts["capture_lag"]
    assert lag["versions"] == counts["versions"]["period"] > 0
    assert sum(lag["buckets"].values()) == lag["versions"]
    assert 0 <= lag["p50_seconds"] <= lag["p95_seconds"] <= lag["max_seconds"]
    assert "Capture lag" in page and 'aria-label="capture lag"' in page

    # The reconciliation is part of what is signed: a changed verdict breaks the signature.
    signed["certificate"]["reconcile"]["missing"] = 7
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(signed))
    code = cli_main(["verify", "--certificate", str(forged), "--public-key", f"{keys}.pub"])
    assert code == 3 and "modified" in capsys.readouterr().err
    assert (
        cli_main(
            ["verify", "--certificate", str(tmp_path / "cert.json"), "--public-key", f"{keys}.pub"]
        )
        == 0
    )
    assert "certified reconcile at" in capsys.readouterr().out


def test_a_lost_write_is_certified_as_missing(sandbox_factory, tmp_path, monkeypatch, keys, capsys):
    sb = sandbox_factory(contents=600, sources=1, days=30)
    source_id = sb.world.source_ids[0]
    records = sorted(sb.world.all_contents(source_id), key=lambda r: (r["creationTime"], r["id"]))
    lost = records[len(records) // 2]
    kept = [r for r in records if r["id"] != lost["id"]]
    root = tmp_path / "archive"
    batch = normalise_contents(
        kept, source_id=source_id, run_id="seed", batch_id="", archived_at=datetime.now(UTC)
    )
    Ledger(LocalStore(root)).commit_batch(
        "contents",
        source_stream(source_id),
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor={"high_water_time": kept[-1]["creationTime"]},
        run_id="seed",
    )
    _use(monkeypatch, sb, root)
    period = lost["creationTime"][:7]
    fact = _attest(keys, period, tmp_path / "cert.json")["certificate"]["reconcile"]
    assert fact["performed"] and not fact["complete"] and fact["missing"] == 1
    assert fact["missing_ids_sha256"] == hashlib.sha256(lost["id"].encode()).hexdigest()
    assert "NOT COMPLETE" in capsys.readouterr().out
    assert "NOT complete" in (tmp_path / "cert.html").read_text()


def test_without_credentials_or_with_no_reconcile_the_certificate_says_so(
    sandbox_factory, tmp_path, monkeypatch, keys, capsys
):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    root = tmp_path / "archive"
    with client_for(sb) as client:
        sync_contents(client, Ledger(LocalStore(root)), source_id, run_id="run-1")
    _use(monkeypatch, sb, root)
    period = datetime.now(UTC).strftime("%Y-%m")
    requests_before = sb.stats.requests()
    skipped = _attest(keys, period, tmp_path / "skipped.json", "--no-reconcile")
    assert skipped["certificate"]["reconcile"] == {
        "performed": False,
        "reason": "--no-reconcile was given",
    }
    assert sb.stats.requests() == requests_before  # no API call at all
    for name in ("RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT"):
        monkeypatch.delenv(name)
    unset = _attest(keys, period, tmp_path / "unset.json")["certificate"]["reconcile"]
    assert not unset["performed"] and "no API credentials" in unset["reason"]
    captured = capsys.readouterr()
    assert "not reconciled against the API" in captured.err
    assert "<b>Not performed</b>" in (tmp_path / "unset.html").read_text()
