"""Cosigned checkpoints on a real local archive with two real witnesses over HTTP: `cosign`
publishes, `verify` requires the quorum and the tree, an insider's rewrite or truncation is
caught by verify and refused by the witnesses, and the review sample a checkpoint seeds is
recomputed independently (in Python and in DuckDB SQL)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from cli.main import main as cli_main
from pipelines.archive import keys
from pipelines.archive.ledger import Ledger
from pipelines.archive.parquet import parquet_to_table
from pipelines.integrity.cosigning_witness import CosigningWitness, WitnessServerThread
from pipelines.integrity.signed_note import COSIGNATURE_V1, generate_signer, split_note
from pipelines.integrity.tlog import parse_checkpoint
from pipelines.integrity.transparency import AREA, newest_checkpoint
from tests.archive.support import SOURCE_ID, STREAM, make_records, normalised_batch
from tests.integrity.support import new_archive, rewrite_chain, truncate_tail

LOG_NAME = "archive.example.com/rc"


@pytest.fixture
def world(tmp_path, monkeypatch, capsys):
    archive = new_archive(tmp_path)
    key = tmp_path / "keys" / "attest.pem"
    monkeypatch.setenv("ARCHIVE_URI", str(archive.root))
    monkeypatch.setenv("ARCHIVE_LOG_NAME", LOG_NAME)
    monkeypatch.delenv("ARCHIVE_WITNESS_URI", raising=False)
    assert cli_main(["keygen", "--out", str(key)]) == 0
    log_vkey = Path(f"{key}.pub.vkey").read_text().strip()
    from pipelines.integrity.signed_note import parse_vkey

    log_verifier = parse_vkey(log_vkey)
    servers, vkeys = [], []
    for name in ("w1.example.org", "w2.example.org"):
        signer = generate_signer(name, COSIGNATURE_V1)
        witness = CosigningWitness(tmp_path / name, signer, {LOG_NAME: log_verifier})
        servers.append(WitnessServerThread(witness).start())
        vkeys.append(signer.verifier().vkey())
    cosigners = ",".join(f"{v}@{s.url}" for v, s in zip(vkeys, servers, strict=True))
    monkeypatch.setenv("ARCHIVE_COSIGNERS", cosigners)
    monkeypatch.setenv("ARCHIVE_LOG_PUBLIC_KEY", f"{key}.pub")
    capsys.readouterr()
    yield archive, key, servers, vkeys
    for server in servers:
        server.stop()


def _cosign(key: Path) -> int:
    return cli_main(["cosign", "--key", str(key)])


def test_cosign_then_verify_requires_the_quorum_and_the_tree(world, capsys):
    archive, key, servers, vkeys = world
    assert cli_main(["verify"]) == 0
    assert "not_cosigned" in capsys.readouterr().out  # nothing published yet: said, not failed
    assert _cosign(key) == 0
    out = capsys.readouterr().out
    assert "checkpoint 90 versions, cosigned by w1.example.org, w2.example.org" in out
    stored = newest_checkpoint(archive.store, SOURCE_ID)
    assert stored.checkpoint.origin == f"{LOG_NAME}/{SOURCE_ID}"
    assert stored.checkpoint.size == 90
    assert cli_main(["verify"]) == 0
    assert "2 of 2 witness cosignature(s) required" in capsys.readouterr().out

    # The log grows; the witnesses cosign the bigger tree from the one they saw (a proof).
    archive.commit(90, 25)
    assert _cosign(key) == 0
    assert newest_checkpoint(archive.store, SOURCE_ID).checkpoint.size == 115
    assert cli_main(["verify"]) == 0


def test_a_rewritten_history_is_caught_by_verify_and_refused_by_the_witnesses(world, capsys):
    archive, key, servers, vkeys = world
    assert _cosign(key) == 0
    rewrite_chain(archive.store)  # consistent: plain verify would pass
    capsys.readouterr()
    assert cli_main(["verify"]) == 3
    out = capsys.readouterr().out
    assert "checkpoint_mismatch" in out
    # The insider signs a checkpoint of the rewritten tree: no witness cosigns a fork.
    assert _cosign(key) == 2
    err = capsys.readouterr().err
    assert "cosigned by 0 of the 2 witnesses required" in err


def test_a_truncated_log_is_a_rollback(world, capsys):
    archive, key, servers, vkeys = world
    archive.commit(90, 10)
    assert _cosign(key) == 0
    truncate_tail(archive.store)
    capsys.readouterr()
    assert cli_main(["verify"]) == 3
    assert "rolled_back" in capsys.readouterr().out
    assert _cosign(key) == 2
    assert "history was removed" in capsys.readouterr().err


def test_fewer_cosignatures_than_the_quorum_fail_verify(world, monkeypatch, capsys):
    archive, key, servers, vkeys = world
    assert _cosign(key) == 0
    third = generate_signer("w3.example.org", COSIGNATURE_V1).verifier().vkey()
    cosigners = ",".join([*(f"{v}@{s.url}" for v, s in zip(vkeys, servers, strict=True)), third])
    monkeypatch.setenv("ARCHIVE_COSIGNERS", cosigners)
    capsys.readouterr()
    assert cli_main(["verify"]) == 3
    assert "cosign_quorum" in capsys.readouterr().out
    monkeypatch.setenv("ARCHIVE_COSIGNER_QUORUM", "2")
    assert cli_main(["verify"]) == 0


def test_attest_publishes_the_checkpoint_with_the_certificate(world, tmp_path, capsys):
    archive, key, servers, vkeys = world
    out = tmp_path / "certs"
    code = cli_main(
        ["attest", "--period", "2024-02", "--key", str(key), "--out", f"{out}/", "--no-reconcile"]
    )
    assert code == 0
    note = (out / f"{SOURCE_ID}-2024-02.checkpoint").read_text()
    text, signatures = split_note(note)
    assert parse_checkpoint(text).size == 90
    assert {s.name for s in signatures} == {LOG_NAME, "w1.example.org", "w2.example.org"}


def test_the_review_sample_a_checkpoint_seeds_is_recomputable(world, tmp_path, capsys):
    archive, key, servers, vkeys = world
    records = make_records(40, 90)
    for record in records:
        record["contentDirection"] = "Outgoing"  # agent messages: the ones a sample draws
    archive.ledger.commit_batch(
        "contents",
        STREAM,
        {"contents": normalised_batch(records).table},
        cursor={"high_water_time": "2024-04-02T00:00:00.000Z"},
        run_id="run-2",
    )
    assert _cosign(key) == 0
    stored = newest_checkpoint(archive.store, SOURCE_ID)
    checkpoint_file = tmp_path / "source.checkpoint"
    checkpoint_file.write_text(stored.note)
    rate = 0.5
    capsys.readouterr()
    args = ["review", "sample", "--checkpoint", str(checkpoint_file), "--rate", str(rate)]
    assert cli_main([*args, "--format", "csv"]) == 0
    committed = int(capsys.readouterr().out.splitlines()[1].split(",")[-1])

    # Independently: seed = SHA-256(checkpoint body); draw = SHA-256(seed || hash)[:8].
    seed = hashlib.sha256(split_note(stored.note)[0].encode()).digest()
    ledger = Ledger(archive.store)
    rows = []
    for entry in ledger.committed_files("contents", STREAM):
        rows += parquet_to_table(archive.store.get(entry.key)).to_pylist()
    threshold = int(rate * 2**64)
    expected = {
        r["record_sha256"]
        for r in rows
        if r["direction"] == "outbound"
        and int.from_bytes(
            hashlib.sha256(seed + bytes.fromhex(r["record_sha256"])).digest()[:8], "big"
        )
        < threshold
    }
    flags = []
    for entry in ledger.committed_files("flags", STREAM):
        flags += parquet_to_table(archive.store.get(entry.key)).to_pylist()
    sampled = {f["content_sha256"] for f in flags if f["policy"] == "checkpoint-sample"}
    assert expected and sampled == expected and committed == len(expected)
    assert all(f["matched"].startswith(f"{LOG_NAME}/{SOURCE_ID} 130 ") for f in flags)

    # The documented DuckDB recipe draws the same versions.
    con = duckdb.connect()
    con.execute("CREATE TABLE v (record_sha256 VARCHAR, direction VARCHAR)")
    con.executemany(
        "INSERT INTO v VALUES (?, ?)", [(r["record_sha256"], r["direction"]) for r in rows]
    )
    drawn = con.execute(
        """SELECT record_sha256 FROM v WHERE direction = 'outbound'
           AND ('0x' || left(sha256(unhex(? || record_sha256)), 16))::UBIGINT < ?::HUGEINT""",
        [seed.hex(), threshold],
    ).fetchall()
    assert {r[0] for r in drawn} == expected

    # Drawing again commits nothing new.
    assert cli_main([*args, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(",0")


def test_checkpoints_are_kept_in_their_own_area_and_verify_does_not_call_them_strangers(
    world, capsys
):
    archive, key, servers, vkeys = world
    assert _cosign(key) == 0
    assert AREA in keys.RECORD_AREAS
    assert any(archive.root.joinpath(AREA, STREAM).rglob("*.checkpoint"))
    capsys.readouterr()
    assert cli_main(["verify"]) == 0
    assert "extra" not in capsys.readouterr().out


def test_deleting_the_archives_checkpoints_hides_nothing_the_witnesses_cosigned(world, capsys):
    """The insider truncates the log and removes every checkpoint the archive kept: verify
    asks the witnesses for the newest checkpoint they cosigned and finds the rollback."""
    import shutil

    archive, key, servers, vkeys = world
    archive.commit(90, 10)
    assert _cosign(key) == 0
    truncate_tail(archive.store)
    area = archive.root / AREA
    for path in [area, *area.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(area)
    capsys.readouterr()
    assert cli_main(["verify"]) == 3
    out = capsys.readouterr().out
    assert "rolled_back: witness w1.example.org: 100 versions were cosigned" in out
