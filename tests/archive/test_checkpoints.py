"""Ledger checkpoints and compaction: a checkpoint plus the manifests after it is the same
state as replaying every manifest; verify catches a tampered checkpoint or compaction; crashes
in either leave readers and verify clean; a reader's cost follows the new manifests only."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.archive import keys
from pipelines.archive.checkpoint import FileEntry
from pipelines.archive.compaction import compact_month, compact_source
from pipelines.archive.counting import CountingStore
from pipelines.archive.ledger import Ledger
from pipelines.archive.parquet import parquet_to_table, table_to_parquet
from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify
from tests.archive.support import SOURCE_ID, STREAM, FailingStore, commit_records

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _commit(ledger: Ledger, start: int, n: int, *, days: int = 40):
    """n records from `start`, spread over 40 days (February and March 2024)."""
    return commit_records(ledger, start, n, days=days)


def _replayed_live_keys(store) -> set[str]:
    """Every manifest from seq 0, applied in order: the reference a checkpoint must match."""
    live: dict[str, str] = {}
    for manifest in Ledger(store).manifests("contents", STREAM):
        for entry in manifest.replaces:
            del live[entry.key]
        for entry in manifest.files:
            live[entry.key] = entry.table
    return {key for key, table in live.items() if table == "contents"}


def _versions_in_files(ledger: Ledger) -> Counter:
    found: Counter = Counter()
    for entry in ledger.committed_files("contents", STREAM):
        part = parquet_to_table(ledger.store.get(entry.key), ["id", "record_sha256"])
        ids, hashes = part.column("id").to_pylist(), part.column("record_sha256").to_pylist()
        found.update(zip(ids, hashes, strict=True))
    return found


def _writable(store: LocalStore, key: str) -> str:
    path = store.uri_for(key)
    os.chmod(path, 0o644)
    return path


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("commit"), st.integers(0, 400), st.integers(1, 60)),
        st.tuples(st.just("checkpoint"), st.just(0), st.just(0)),
        st.tuples(st.just("compact"), st.sampled_from(["2024-02", "2024-03"]), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_checkpoint_plus_tail_equals_full_replay(tmp_path_factory, ops):
    store = LocalStore(tmp_path_factory.mktemp("archive"))
    writer = Ledger(store, checkpoint_every=3)
    for op, a, b in ops:
        if op == "commit":
            _commit(writer, a, b)
        elif op == "checkpoint":
            writer.write_checkpoint("contents", STREAM)
        else:
            compact_month(writer, SOURCE_ID, a, "compact-1", now=NOW)

    fresh = Ledger(store)  # starts from the newest checkpoint, as a new run does
    state = fresh.state("contents", STREAM)
    all_manifests = list(Ledger(store).manifests("contents", STREAM))
    if not all_manifests:
        assert state.head is None
        return
    assert state.head_seq == all_manifests[-1].seq
    assert state.head.cursor == all_manifests[-1].cursor
    assert {e.key for e in state.live_files("contents")} == _replayed_live_keys(store)
    # The persisted index + tail holds exactly the versions in the live files, once each.
    in_files = _versions_in_files(fresh)
    assert set(in_files) == fresh.archived_versions("contents", STREAM)
    assert all(count == 1 for count in in_files.values())
    report = verify(store)
    assert report.ok and not report.findings, report.summary()


def test_a_reader_after_a_checkpoint_reads_only_the_newer_manifests(tmp_path):
    store = LocalStore(tmp_path)
    writer = Ledger(store, checkpoint_every=10)
    for i in range(25):
        _commit(writer, i * 5, 5)
    checkpoint = Ledger(store).latest_checkpoint("contents", STREAM)
    assert checkpoint is not None and checkpoint.seq == 19

    counting = CountingStore(store)
    state = Ledger(counting).state("contents", STREAM)
    assert state.head_seq == 24
    manifest_gets = [k for k in counting.gets if "_checkpoints" not in k]
    # the manifest the checkpoint names (its hash is checked) and the 5 after it
    assert len(manifest_gets) == 6
    assert len(counting.gets) == 7  # plus the checkpoint itself
    assert counting.lists == 2  # the checkpoints folder, the manifests after the checkpoint

    # K more manifests: a known ledger refreshes with K GETs and one LIST.
    known = Ledger(counting)
    known.state("contents", STREAM)
    for i in range(3):
        _commit(writer, 500 + i * 5, 5)
    counting.reset()
    assert known.state("contents", STREAM).head_seq == 27
    assert len(counting.gets) == 3 and counting.lists == 1


def test_verify_reports_a_tampered_checkpoint(tmp_path):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    for i in range(3):
        _commit(ledger, i * 10, 10)
    checkpoint = ledger.write_checkpoint("contents", STREAM)
    assert verify(store).ok

    body = json.loads(store.get(checkpoint.key))
    body["files"] = body["files"][1:]  # hide a committed file from every reader
    with open(_writable(store, checkpoint.key), "w") as handle:
        json.dump(body, handle)
    report = verify(store)
    assert not report.ok
    assert [f.key for f in report.of_kind("checkpoint_invalid")] == [checkpoint.key]


def test_verify_reports_a_version_index_that_lies(tmp_path):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    for i in range(2):
        _commit(ledger, i * 10, 10)
    checkpoint = ledger.write_checkpoint("contents", STREAM)
    index = parquet_to_table(store.get(checkpoint.version_index.key))
    forged = table_to_parquet(index.slice(1), "version_index")  # one version "never archived"
    with open(_writable(store, checkpoint.version_index.key), "wb") as handle:
        handle.write(forged)
    report = verify(store)
    assert [f.kind for f in report.findings] == ["checkpoint_invalid"]


def test_a_crash_between_index_and_checkpoint_is_not_tampering(tmp_path):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    _commit(ledger, 0, 10)
    crashing = FailingStore(
        store, fail_on=lambda key: key.endswith("0000000000.json") and "_checkpoints" in key
    )
    with pytest.raises(OSError, match="injected"):
        Ledger(crashing).write_checkpoint("contents", STREAM)
    report = verify(store)
    assert report.ok and [f.kind for f in report.findings] == ["checkpoint_unfinished"]
    assert Ledger(store).state("contents", STREAM).checkpoint is None
    # The next attempt reuses the index it left and completes.
    assert Ledger(store).write_checkpoint("contents", STREAM) is not None
    assert verify(store).findings == []


def test_compaction_reads_one_file_and_keeps_every_version(tmp_path):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    for i in range(6):
        _commit(ledger, i * 20, 20)
    before = _versions_in_files(ledger)
    assert (
        sum(
            1
            for e in ledger.committed_files("contents", STREAM)
            if e.min_creation_time[:7] == "2024-02"
        )
        > 1
    )
    results = compact_source(ledger, SOURCE_ID, "compact-1", now=NOW)
    assert {r.period for r in results if r.manifest} == {"2024-02", "2024-03"}
    live = Ledger(store).committed_files("contents", STREAM)
    assert len(live) == 2 and all(len(keys.period_of_key(e.key)) == 7 for e in live)
    assert _versions_in_files(Ledger(store)) == before
    report = verify(store)
    assert report.ok and not report.findings, report.summary()
    # Inputs stay in the store (write-once): nothing was deleted.
    assert all(store.exists(e.key) for r in results if r.manifest for e in r.manifest.replaces)
    with pytest.raises(ValueError, match="not closed"):
        compact_month(ledger, SOURCE_ID, "2026-03", "compact-2", now=NOW)


@pytest.mark.parametrize("change", ["missing_row", "extra_row"])
def test_verify_reports_a_compacted_file_that_differs_from_its_inputs(tmp_path, change):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    for i in range(3):
        _commit(ledger, i * 10, 10, days=2)
    inputs = ledger.committed_files("contents", STREAM)
    rows = ledger.read_table(inputs)
    rows = rows.slice(1) if change == "missing_row" else pa.concat_tables([rows, rows.slice(0, 1)])
    slot = ledger.next_manifest("contents", STREAM, "forger", "compaction")
    key = keys.compacted_contents_key(STREAM, "2024-02", slot.batch_id)
    ledger.write_intent(slot, [key])
    written = store.put(key, table_to_parquet(rows, "contents"), content_type="x")
    output = FileEntry(key, "contents", written.sha256, written.bytes, rows.num_rows, None, None)
    ledger.commit(slot, [output], slot.head_cursor, replaces=tuple(inputs))
    report = verify(store)
    assert [f.kind for f in report.findings if f.tampering] == ["compaction_invalid"]


def test_verify_reports_a_changed_compaction_input(tmp_path):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    for i in range(3):
        _commit(ledger, i * 10, 10, days=2)
    result = compact_month(ledger, SOURCE_ID, "2024-02", "compact-1", now=NOW)
    victim = result.manifest.replaces[0].key
    with open(_writable(store, victim), "ab") as handle:
        handle.write(b"x")
    assert [f.key for f in verify(store).of_kind("changed")] == [victim]


def test_a_crash_during_compaction_leaves_nothing_a_reader_sees(tmp_path):
    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    for i in range(3):
        _commit(ledger, i * 10, 10, days=2)
    live_before = [e.key for e in ledger.committed_files("contents", STREAM)]
    crashing = FailingStore(
        store, fail_on=lambda key: keys.MANIFEST_NAME.match(key.rsplit("/", 1)[1]) is not None
    )
    with pytest.raises(OSError, match="injected"):
        compact_month(Ledger(crashing), SOURCE_ID, "2024-02", "compact-1", now=NOW)
    assert [e.key for e in Ledger(store).committed_files("contents", STREAM)] == live_before
    report = verify(store)
    assert report.ok and [f.kind for f in report.findings] == ["uncommitted"]
    # A later compaction succeeds and verify is clean apart from the leftover.
    assert compact_month(Ledger(store), SOURCE_ID, "2024-02", "compact-2", now=NOW).manifest
    assert [f.kind for f in verify(store).findings] == ["uncommitted"]


def test_the_per_run_check_reads_the_tail_and_a_sample_only(tmp_path):
    from pipelines.archive.verify import verify_recent

    store = LocalStore(tmp_path)
    writer = Ledger(store, checkpoint_every=10)
    for i in range(25):
        _commit(writer, i * 5, 5)
    counting = CountingStore(store)
    report = verify_recent(counting, STREAM, sample=4)
    assert report.ok and not report.findings
    assert report.manifests_checked == 5  # the tail after the checkpoint at seq 19
    data_gets = [k for k in counting.gets if not k.startswith("_ledger/")]
    tail_files = sum(len(m.files) for m in Ledger(store).state("contents", STREAM).tail)
    assert len(data_gets) == tail_files + 4

    # A changed file of the tail is found; so is one in the rotating sample over enough runs.
    victim = Ledger(store).state("contents", STREAM).tail[-1].files[0].key
    with open(_writable(store, victim), "ab") as handle:
        handle.write(b"x")
    assert [f.key for f in verify_recent(store, STREAM).of_kind("changed")] == [victim]


def test_closed_days_of_the_current_month_are_compacted_too(tmp_path):
    from pipelines.archive.compaction import compact_period

    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    for i in range(4):  # four runs, each writing into the days 2024-02-20 and 2024-02-21
        _commit(ledger, i * 10, 10, days=2)
    in_february = datetime(2024, 2, 21, 12, tzinfo=UTC)
    results = compact_source(ledger, SOURCE_ID, "compact", now=in_february)
    # Today's closed hour (the sample records of 02-21 fall in its first hour) and the closed
    # day 02-20 each become one file in their day's folder.
    assert [(r.period, r.inputs) for r in results] == [("2024-02-21T00", 4), ("2024-02-20", 4)]
    live = Ledger(store).committed_files("contents", STREAM)
    assert sum(1 for e in live if e.min_creation_time.startswith("2024-02-20")) == 1
    assert all(len(keys.period_of_key(e.key)) == 10 for e in live)
    assert len(Ledger(store).committed_files("contents", STREAM)) == 2
    with pytest.raises(ValueError, match="not closed"):
        compact_period(ledger, SOURCE_ID, "2024-02-21", "compact", now=in_february)
    with pytest.raises(ValueError, match="not closed"):
        compact_period(ledger, SOURCE_ID, "2024-02-21T12", "compact", now=in_february)
    # At the month's end the month is compacted from the day file and the rest.
    compact_source(ledger, SOURCE_ID, "compact", now=datetime(2024, 3, 2, tzinfo=UTC))
    assert len(Ledger(store).committed_files("contents", STREAM)) == 1
    assert verify(store).findings == []


def test_a_contents_checkpoint_carries_the_merkle_tree_a_certificate_certifies(tmp_path):
    from pipelines.archive import merkle
    from pipelines.integrity.log import read_log

    store = LocalStore(tmp_path)
    ledger = Ledger(store)
    for i in range(3):
        _commit(ledger, i * 10, 10)
    compact_month(ledger, SOURCE_ID, "2024-02", "compact", now=NOW)
    _commit(ledger, 500, 5)
    checkpoint = ledger.write_checkpoint("contents", STREAM)
    log = read_log(Ledger(store), SOURCE_ID)
    assert checkpoint.merkle == {"tree_size": 35, "root": merkle.root(log.leaves).hex()}
    assert verify(store).findings == []

    body = json.loads(store.get(checkpoint.key))
    body["merkle"]["root"] = "00" * 32
    with open(_writable(store, checkpoint.key), "w") as handle:
        json.dump(body, handle)
    assert [f.kind for f in verify(store).findings] == ["checkpoint_invalid"]
