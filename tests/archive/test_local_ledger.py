"""Ledger + verify on a local directory: commit, retry, crash, and each tampering kind."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.archive.ledger import ConcurrentCommitError, Ledger
from pipelines.archive.store import LocalStore, ObjectExistsError
from pipelines.archive.verify import verify
from schemas.agents import normalise_extensions
from schemas.contents import normalise_contents
from tests.archive.support import SOURCE_ID, STREAM, make_records, normalised_batch

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _commit(ledger, records, high_water="2024-02-21T00:00:00.000Z"):
    batch = normalised_batch(records)
    return ledger.commit_batch(
        "contents",
        STREAM,
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor={"high_water_time": high_water},
        run_id="run-1",
    )


def _writable(store: LocalStore, key: str) -> str:
    path = store.uri_for(key)
    os.chmod(path, 0o644)
    return path


def test_local_store_is_write_once_and_read_only(tmp_path):
    store = LocalStore(tmp_path)
    result = store.put("a/b.bin", b"hello", content_type="application/octet-stream")
    assert result.bytes == 5 and len(result.sha256) == 64
    with pytest.raises(ObjectExistsError):
        store.put("a/b.bin", b"other", content_type="application/octet-stream")
    assert store.get("a/b.bin") == b"hello"
    assert oct(os.stat(store.uri_for("a/b.bin")).st_mode & 0o777) == "0o444"
    assert list(store.list("a/")) == ["a/b.bin"]
    with pytest.raises(ValueError):
        store.put("../escape", b"x", content_type="x")


def test_commit_split_by_day_and_chain(tmp_path):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    first = _commit(ledger, make_records(100))
    assert first.seq == 0 and first.prev_sha256 is None
    assert sorted(f.key.split("/", 3)[:3] for f in first.files) == [
        ["contents", f"source={SOURCE_ID}", "period=2024-02-20"],
        ["contents", f"source={SOURCE_ID}", "period=2024-02-21"],
    ]
    assert sum(f.rows for f in first.files) == 100
    second = _commit(ledger, make_records(50, start=100), "2024-02-22T00:00:00.000Z")
    assert second.seq == 1 and second.prev_sha256 == first.sha256
    assert ledger.head("contents", STREAM).seq == 1
    assert len(ledger.archived_versions("contents", STREAM)) == 150
    table = ledger.read_table(ledger.committed_files("contents", STREAM), ["id", "batch_id"])
    assert table.num_rows == 150
    assert set(table.column("batch_id").to_pylist()) == {first.batch_id, second.batch_id}
    assert verify(store).ok


def test_retry_of_same_batch_adds_no_visible_copy(tmp_path):
    ledger = Ledger(LocalStore(tmp_path))
    records = make_records(40)
    _commit(ledger, records)
    again = _commit(ledger, records)
    assert again.files == ()
    ids = ledger.read_table(ledger.committed_files("contents"), ["id"]).column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 40


class CrashBeforeManifest(LocalStore):
    """Fault injection (a test double on purpose): the process 'dies' before the commit point."""

    def put(self, key, data, *, content_type):
        if key.startswith("_ledger/") and "/_pending/" not in key:
            raise KeyboardInterrupt("simulated crash before the manifest put")
        return super().put(key, data, content_type=content_type)


def test_crash_before_manifest_leaves_nothing_visible_and_retry_commits(tmp_path):
    ledger = Ledger(LocalStore(tmp_path))
    _commit(ledger, make_records(10))
    before = ledger.committed_files("contents", STREAM)
    with pytest.raises(KeyboardInterrupt):
        _commit(Ledger(CrashBeforeManifest(tmp_path)), make_records(10, start=10))
    assert ledger.committed_files("contents", STREAM) == before
    retried = _commit(Ledger(LocalStore(tmp_path)), make_records(10, start=10))
    assert retried.seq == 1 and sum(f.rows for f in retried.files) == 10
    report = verify(LocalStore(tmp_path))
    assert report.ok, report.summary()
    leftovers = report.of_kind("uncommitted")
    assert leftovers and all(f.key.startswith("contents/") for f in leftovers)


def test_concurrent_writer_loses_cleanly(tmp_path):
    ledger_a, ledger_b = Ledger(LocalStore(tmp_path)), Ledger(LocalStore(tmp_path))
    writer_a = ledger_a.begin_batch("contents", STREAM, "run-a")
    writer_b = ledger_b.begin_batch("contents", STREAM, "run-b")
    assert writer_a.seq == writer_b.seq == 0
    writer_a.commit({"contents": normalised_batch(make_records(5)).table}, {})
    with pytest.raises(ConcurrentCommitError, match="another writer"):
        writer_b.commit({"contents": normalised_batch(make_records(5, start=5)).table}, {})
    assert ledger_a.head("contents", STREAM).batch_id == writer_a.batch_id
    assert verify(LocalStore(tmp_path)).ok


class _CountingStore(LocalStore):
    """The real local store, counting the quarantine files it is asked for (instrumentation,
    not a double: every read still goes to disk)."""

    quarantine_reads = 0

    def get(self, key: str) -> bytes:
        if key.startswith("quarantine/"):
            self.quarantine_reads += 1
        return super().get(key)


def test_quarantined_hashes_read_each_quarantine_file_once(tmp_path):
    store = _CountingStore(str(tmp_path / "archive"))
    ledger = Ledger(store)
    records = make_records(6)
    for index in range(4):  # every batch brings one more malformed record
        _commit(ledger, [records[index], {"id": f"bad-{index}", "creationTime": None}])
        assert len(ledger.quarantined_hashes("contents", STREAM)) == index + 1
    assert store.quarantine_reads == 4
    # A second ledger over the same store (the next run) reads them again, once.
    fresh = Ledger(store)
    assert fresh.quarantined_hashes("contents", STREAM) == ledger.quarantined_hashes(
        "contents", STREAM
    )
    assert store.quarantine_reads == 8
    # Callers may change what they get back; the ledger's own set stays as committed.
    fresh.quarantined_hashes("contents", STREAM).add("x")
    assert "x" not in fresh.quarantined_hashes("contents", STREAM)


@pytest.fixture
def archive(tmp_path):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    first = _commit(ledger, make_records(20))
    second = _commit(ledger, make_records(20, start=20), "2024-02-22T00:00:00.000Z")
    assert verify(store).ok
    return store, first, second


def _only(report, kind):
    assert not report.ok
    return [f.key for f in report.of_kind(kind)]


def test_verify_changed_file(archive):
    store, first, _ = archive
    key = first.files[0].key
    with open(_writable(store, key), "r+b") as handle:
        handle.seek(-20, os.SEEK_END)
        handle.write(b"X")
    assert _only(verify(store), "changed") == [key]


def test_verify_missing_file(archive):
    store, _, second = archive
    key = second.files[0].key
    os.remove(store.uri_for(key))
    assert _only(verify(store), "missing") == [key]


@pytest.mark.parametrize(
    "folder", [f"source={SOURCE_ID}/period=2024-02-20", f"{STREAM}/creation_date=2024-02-20"]
)
def test_verify_extra_file(archive, folder):
    """In the folders of either layout (layout 1 files stay in older archives)."""
    store, _, _ = archive
    key = f"contents/{folder}/0000000009-aaaaaaaaaaaa.parquet"
    store.put(key, b"PAR1 smuggled", content_type="x")
    assert _only(verify(store), "extra") == [key]


def test_verify_broken_chain(archive):
    store, _, second = archive
    path = _writable(store, second.key)
    body = json.loads(Path(path).read_bytes())
    body["prev_sha256"] = "0" * 64
    Path(path).write_bytes(json.dumps(body).encode())
    assert _only(verify(store), "chain_broken") == [second.key]


def test_verify_seq_gap(archive):
    store, _, second = archive
    os.rename(store.uri_for(second.key), store.uri_for(second.key.replace("01.json", "02.json")))
    report = verify(store)
    assert _only(report, "seq_gap") == [second.key.replace("01.json", "02.json")]


def test_verify_cursor_going_back(archive):
    store, first, _ = archive
    ledger = Ledger(store)
    third = _commit(ledger, make_records(5, start=40), "2020-01-01T00:00:00.000Z")
    assert _only(verify(store), "cursor_regressed") == [third.key]


def test_verify_manifest_not_json(archive):
    store, first, _ = archive
    Path(_writable(store, first.key)).write_bytes(b"{not json")
    report = verify(store)
    assert _only(report, "manifest_invalid") == [first.key]


OTHER_SOURCE = "65c3fdd9527bf900079cefcc"
OTHER_STREAM = f"source_id={OTHER_SOURCE}"


def _two_sources(tmp_path):
    """Two sources' contents, and an agents batch committed by the first one's ledger."""
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    _commit(ledger, make_records(10) + [{"id": "bad", "creationTime": None}])
    other = [dict(r, sourceId=OTHER_SOURCE) for r in make_records(10, start=100)]
    batch = normalise_contents(
        other, source_id=OTHER_SOURCE, run_id="run-1", batch_id="", archived_at=datetime.now(UTC)
    )
    ledger.commit_batch(
        "contents", OTHER_STREAM, {"contents": batch.table}, cursor={}, run_id="run-1"
    )
    agents = normalise_extensions(
        [{"id": 63317565004, "name": "Agent"}], run_id="run-1", batch_id="", archived_at=NOW
    )
    agents_manifest = ledger.commit_batch(
        "agents", STREAM, {"agents": agents.table}, cursor={}, run_id="run-1"
    )
    assert verify(store).ok
    assert verify(store, stream=STREAM).ok and verify(store, stream=OTHER_STREAM).ok
    return store, ledger, agents_manifest


def _tamper(store: LocalStore, key: str) -> None:
    with open(_writable(store, key), "ab") as f:
        f.write(b"x")


def test_verify_of_one_source_sees_its_own_files_only(tmp_path):
    store, ledger, _ = _two_sources(tmp_path)
    other_file = ledger.committed_files("contents", OTHER_STREAM)[0].key
    _tamper(store, other_file)
    assert verify(store, stream=STREAM).ok
    assert [f.key for f in verify(store, stream=OTHER_STREAM).findings] == [other_file]
    assert [f.key for f in verify(store).findings] == [other_file]


def test_verify_of_one_source_finds_an_extra_file_in_its_own_prefix(tmp_path):
    store, _, _ = _two_sources(tmp_path)
    extra = f"contents/source={SOURCE_ID}/period=2024-02-20/smuggled.parquet"
    store.put(extra, b"not parquet", content_type="application/octet-stream")
    assert _only(verify(store, stream=STREAM), "extra") == [extra]
    assert verify(store, stream=OTHER_STREAM).ok


def test_verify_of_one_source_checks_the_shared_agents_files_it_committed(tmp_path):
    store, _, agents_manifest = _two_sources(tmp_path)
    agents_file = agents_manifest.files[0].key
    _tamper(store, agents_file)
    assert _only(verify(store, stream=STREAM), "changed") == [agents_file]
    assert verify(store, stream=OTHER_STREAM).ok
