"""Every manifest says what it is (batch, compaction, disposition), as a hashed field of the
chain; one whose declared kind its fields contradict is tampering that verify names and readers
refuse; a manifest written before manifests said their kind reads, verifies and chains as the
kind its fields imply, byte for byte as it was written."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from pipelines.archive import keys
from pipelines.archive.compaction import compact_month
from pipelines.archive.disposal import commit_disposition, dispose_objects
from pipelines.archive.ledger import Ledger, LedgerError, Manifest
from pipelines.archive.store import LocalStore
from pipelines.archive.stored_json import stored_json_bytes
from pipelines.archive.verify import verify
from schemas.common import iso_ms
from tests.archive.support import SOURCE_ID, STREAM, commit_records

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _one_of_each_kind(store: LocalStore) -> list[Manifest]:
    """Batches, a compaction of February 2024 and a disposition of its output, committed by
    their own producers; returns the stream's manifests in seq order."""
    ledger = Ledger(store)
    for i in range(3):
        commit_records(ledger, i * 10, 10, days=2)
    compact_month(ledger, SOURCE_ID, "2024-02", "compact", now=NOW)
    live = ledger.committed_files("contents", STREAM)
    commit_disposition(
        ledger,
        "contents",
        STREAM,
        live,
        live,
        as_of=iso_ms(NOW),
        user="records@example.com",
        user_from="os",
        reason="retention ended",
        run_id="dispose",
    )
    dispose_objects(store, live)
    return list(Ledger(store).manifests("contents", STREAM))


def _rewrite(store: LocalStore, key: str, data: bytes) -> None:
    path = store.uri_for(key)
    os.chmod(path, 0o644)
    with open(path, "wb") as handle:
        handle.write(data)


def test_each_producer_declares_its_kind_in_the_hashed_bytes(tmp_path):
    store = LocalStore(tmp_path)
    manifests = _one_of_each_kind(store)
    kinds = [json.loads(store.get(m.key))["kind"] for m in manifests]
    assert kinds == ["batch", "batch", "batch", "compaction", "disposition"]
    assert all(m.kind_declared and m.kind_contradiction is None for m in manifests)
    assert verify(store).findings == []


def test_verify_reports_a_manifest_whose_declared_kind_its_fields_contradict(tmp_path):
    store = LocalStore(tmp_path)
    compaction = _one_of_each_kind(store)[3]
    # The insider passes the compaction off as a batch (readers would count its output as new
    # versions). The chain after it is re-linked, so only the kind gives it away.
    body = json.loads(store.get(compaction.key))
    body["kind"] = "batch"
    forged = stored_json_bytes(body)
    _rewrite(store, compaction.key, forged)
    after = keys.manifest_key("contents", STREAM, compaction.seq + 1)
    following = json.loads(store.get(after))
    following["prev_sha256"] = Manifest.from_bytes(compaction.key, forged).sha256
    _rewrite(store, after, stored_json_bytes(following))

    report = verify(store)
    found = [f for f in report.findings if f.tampering]
    assert [(f.kind, f.key) for f in found] == [("kind_contradicted", compaction.key)]
    assert "declares kind 'batch', but its fields make it a compaction" in found[0].detail
    with pytest.raises(LedgerError, match="declares kind 'batch'"):
        Ledger(store).head("contents", STREAM)


def test_a_kind_that_is_none_of_the_three_makes_the_manifest_invalid(tmp_path):
    store = LocalStore(tmp_path)
    head = _one_of_each_kind(store)[-1]
    body = json.loads(store.get(head.key))
    body["kind"] = "merge"
    _rewrite(store, head.key, stored_json_bytes(body))
    invalid = verify(store).of_kind("manifest_invalid")
    assert [f.key for f in invalid] == [head.key] and "kind 'merge'" in invalid[0].detail


def test_manifests_written_before_kind_read_verify_and_chain_as_their_fields_imply(tmp_path):
    """The stored 0.1.0 fixtures (test_release_0_1_0_archive, test_upgrade_to_version_identity)
    hold pre-kind batches only; this makes a pre-kind compaction and disposition too, as the
    writer before `kind` wrote them (the same bytes but the field), re-chained."""
    store = LocalStore(tmp_path)
    written = _one_of_each_kind(store)
    previous_sha = None
    for manifest in written:
        body = json.loads(store.get(manifest.key))
        del body["kind"]
        body["prev_sha256"] = previous_sha
        data = stored_json_bytes(body)
        _rewrite(store, manifest.key, data)
        previous_sha = Manifest.from_bytes(manifest.key, data).sha256

    ledger = Ledger(store)
    legacy = list(ledger.manifests("contents", STREAM))
    assert [m.kind for m in legacy] == ["batch", "batch", "batch", "compaction", "disposition"]
    assert not any(m.kind_declared for m in legacy)
    for manifest in legacy:  # read as written: no `kind` added to its bytes
        assert manifest.to_json_bytes() == store.get(manifest.key)
    assert verify(store).findings == []
    # The chain goes on from them, and the new manifest declares its kind.
    new = commit_records(ledger, 100, 5, days=1)
    assert new.prev_sha256 == legacy[-1].sha256 and new.kind == "batch" and new.kind_declared
    assert verify(store).findings == []


def test_a_producer_cannot_commit_fields_of_another_kind(tmp_path):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    commit_records(ledger, 0, 5)
    live = ledger.committed_files("contents", STREAM)
    slot = ledger.next_manifest("contents", STREAM, "mixed-up", "batch")
    with pytest.raises(ValueError, match="a batch manifest .* the fields of a compaction"):
        ledger.commit(slot, live, {}, replaces=tuple(live))
    assert ledger.head("contents", STREAM).seq == 0  # nothing was written
    assert not store.exists(keys.manifest_key("contents", STREAM, 1))
