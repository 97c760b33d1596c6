"""Each attack of docs/integrity.md passes the archive's own verify, and is caught by the
witness and by a certificate; certificates survive compaction, checkpoints and growth and
refuse another key, a modified body and another archive."""

from __future__ import annotations

import copy
import shutil

import pytest

from pipelines.archive import keys
from pipelines.archive.compaction import compact_month
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import LocalStore, S3Store
from pipelines.archive.verify import verify
from pipelines.integrity.certificate import CertificateRefused, sign, verify_certificate
from pipelines.integrity.witness import (
    Witness,
    WitnessConflictError,
    WitnessUnavailable,
    compare_with_witness,
)
from tests.archive.support import SOURCE_ID, STREAM
from tests.integrity.support import ATTACKS, PERIOD, Archive, certify, new_archive

NOW = __import__("datetime").datetime(2026, 3, 1, tzinfo=__import__("datetime").UTC)


def test_every_commit_and_checkpoint_is_witnessed(archive):
    checkpoint = archive.ledger.write_checkpoint("contents", STREAM)
    entries = archive.witness.entries()[("contents", STREAM)]
    assert sorted(entries["manifest"]) == [0, 1, 2]
    assert entries["checkpoint"][2].sha256 == checkpoint.sha256
    heads = {m.seq: m.sha256 for m in archive.ledger.manifests("contents", STREAM)}
    assert {seq: e.sha256 for seq, e in entries["manifest"].items()} == heads
    assert compare_with_witness(archive.store, archive.witness) == []


def test_witness_refuses_another_hash_for_a_seq(archive):
    with pytest.raises(WitnessConflictError, match="rewritten"):
        archive.witness.record("contents", STREAM, 0, "0" * 64, "manifest")
    head = archive.ledger.head("contents", STREAM)
    again = archive.witness.record("contents", STREAM, head.seq, head.sha256, "manifest")
    assert again.sha256 == head.sha256  # idempotent for the same hash


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_passes_plain_verify_and_is_caught_by_the_witness(archive, attack):
    tamper, kind = ATTACKS[attack]
    tamper(archive.store)
    store = LocalStore(archive.root)
    assert verify(store).ok  # the issue: the archive alone cannot tell
    findings = compare_with_witness(store, archive.witness)
    assert kind in {f.kind for f in findings}, findings
    assert all(f.tampering for f in findings if f.kind == kind)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_caught_by_a_certificate_without_a_witness(archive, signing_keys, attack):
    signed = certify(archive, signing_keys)
    tamper, _ = ATTACKS[attack]
    tamper(archive.store)
    check = verify_certificate(archive.reopen(), signed, signing_keys.public)
    assert not check.ok
    assert {f.kind for f in check.findings} == {"certified_changed"}
    assert all(f.tampering for f in check.findings)


def test_certificate_holds_after_growth_compaction_and_checkpoint(tmp_path, signing_keys):
    archive = new_archive(tmp_path, days=40)  # February and March 2024
    signed = certify(archive, signing_keys)
    body = signed["certificate"]
    assert body["merkle"]["tree_size"] == 90
    in_february = sum(1 for i in range(90) if i % 40 < 10)  # Feb 20..29, 2024
    assert body["counts"]["contents"] == {"total": 90, "period": in_february}
    assert sum(body["counts"]["per_day"].values()) == body["counts"]["versions"]["period"]
    assert set(body["chain_heads"]) == {"contents"}

    archive.commit(90, 20, days=40)  # growth after the certificate
    result = compact_month(archive.ledger, SOURCE_ID, "2024-02", "run-c", now=NOW)
    assert result.manifest is not None
    archive.ledger.write_checkpoint("contents", STREAM)

    ledger = archive.reopen()
    assert verify(ledger.store).ok
    check = verify_certificate(ledger, signed, signing_keys.public)
    assert check.ok, check.findings
    assert check.tree_size == 110
    assert check.consistency_proof  # from 90 leaves to 110
    # compaction adds no leaves: a certificate issued now has the same tree as before it
    again = certify(archive, signing_keys)["certificate"]["merkle"]
    assert again["tree_size"] == 110
    # every commit, compaction and checkpoint was witnessed
    findings = compare_with_witness(ledger.store, archive.witness)
    assert findings == []


def test_certificate_of_another_key_or_modified_or_another_archive_is_refused(
    tmp_path, archive, signing_keys, other_keys
):
    signed = certify(archive, signing_keys)
    with pytest.raises(CertificateRefused, match="another key") as refused:
        verify_certificate(archive.reopen(), signed, other_keys.public)
    assert refused.value.tampering

    modified = copy.deepcopy(signed)
    modified["certificate"]["counts"]["contents"]["total"] += 1
    with pytest.raises(CertificateRefused, match="modified") as refused:
        verify_certificate(archive.reopen(), modified, signing_keys.public)
    assert refused.value.tampering

    other = new_archive(tmp_path, "other")
    with pytest.raises(CertificateRefused, match="is for archive") as refused:
        verify_certificate(other.reopen(), signed, signing_keys.public)
    assert not refused.value.tampering


def test_only_the_last_manifest_may_be_unwitnessed_and_an_empty_witness_is_refused(tmp_path):
    """Fail closed: a witness location that is missing or empty is refused. With a witness,
    history from before it and the last manifest (a crash between a commit and its witness
    entry) are `unwitnessed`, not tampering; an unwitnessed manifest with more written after it
    was written around the witness (`witness_bypassed`, tampering)."""
    store = LocalStore(tmp_path / "a")
    witness = Witness(LocalStore(tmp_path / "w"))
    plain = Archive(tmp_path / "a", store, witness, Ledger(store))
    plain.commit(0, 10)
    with pytest.raises(WitnessUnavailable, match="no such directory"):
        compare_with_witness(store, witness)
    (tmp_path / "w").mkdir()
    with pytest.raises(WitnessUnavailable, match="holds no entries"):
        compare_with_witness(store, witness)

    witnessed = Archive(tmp_path / "a", store, witness, Ledger(store, witness=witness))
    witnessed.commit(10, 10)  # seq 1: the witness begins
    plain.commit(20, 10)  # seq 2: as if the process died before its witness entry
    findings = compare_with_witness(store, witness)
    assert [(f.kind, f.key, f.tampering) for f in findings] == [
        ("unwitnessed", keys.manifest_key("contents", STREAM, 0), False),  # before the witness
        ("unwitnessed", keys.manifest_key("contents", STREAM, 2), False),  # the last one
    ]
    plain.commit(30, 10)  # seq 3: a writer went on without the witness
    findings = compare_with_witness(store, witness)
    assert {f.key: (f.kind, f.tampering) for f in findings} == {
        keys.manifest_key("contents", STREAM, 0): ("unwitnessed", False),
        keys.manifest_key("contents", STREAM, 2): ("witness_bypassed", True),
        keys.manifest_key("contents", STREAM, 3): ("unwitnessed", False),
    }


def test_period_counts(archive, signing_keys):
    counts = certify(archive, signing_keys)["certificate"]["counts"]
    assert counts["contents"] == {"total": 90, "period": 90}
    assert counts["versions"] == {"total": 90, "period": 90}
    assert PERIOD == "2024-02"


def test_a_certificate_verifies_on_a_copy_a_moved_archive_and_an_s3_replica(
    tmp_path, archive, signing_keys, s3_server, s3_bucket
):
    """The certificate names its archive by the ledger's first manifest, not its place: the
    restore and replica recipes of docs/deploy.md verify; another archive is still refused."""
    signed = certify(archive, signing_keys)
    assert signed["certificate"]["ledger_genesis"]

    copy_root = tmp_path / "copy"
    shutil.copytree(archive.root, copy_root)
    assert verify_certificate(Ledger(LocalStore(copy_root)), signed, signing_keys.public).ok

    moved = tmp_path / "moved" / "archive"
    moved.parent.mkdir()
    shutil.move(str(copy_root), moved)
    assert verify_certificate(Ledger(LocalStore(moved)), signed, signing_keys.public).ok

    client = s3_server.client()
    for path in sorted(p for p in archive.root.rglob("*") if p.is_file()):
        key = f"replica/{path.relative_to(archive.root).as_posix()}"
        client.put_object(Bucket=s3_bucket, Key=key, Body=path.read_bytes())
    replica = Ledger(S3Store(s3_bucket, "replica", client))
    assert verify_certificate(replica, signed, signing_keys.public).ok

    # The archive's place is printed for a person, not trusted: an edited place is tampering.
    moved_place = copy.deepcopy(signed)
    moved_place["certificate"]["archive_uri"] = "s3://elsewhere/archive"
    with pytest.raises(CertificateRefused, match="modified"):
        verify_certificate(replica, moved_place, signing_keys.public)


def test_a_certificate_without_ledger_genesis_is_still_matched_by_place(
    tmp_path, archive, signing_keys
):
    """Certificates issued before they named the ledger: their archive is matched by place."""
    body = copy.deepcopy(certify(archive, signing_keys)["certificate"])
    del body["ledger_genesis"]
    older = sign(body, signing_keys.private)
    assert verify_certificate(archive.reopen(), older, signing_keys.public).ok
    copy_root = tmp_path / "copy"
    shutil.copytree(archive.root, copy_root)
    with pytest.raises(CertificateRefused, match="names its archive by place"):
        verify_certificate(Ledger(LocalStore(copy_root)), older, signing_keys.public)
