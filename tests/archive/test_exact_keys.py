"""The compact version check: exact membership, whatever the keys look like or when they came."""

from __future__ import annotations

import hashlib
import random

import pyarrow as pa
import pytest

from pipelines.archive import exact_keys
from pipelines.archive.exact_keys import KeySet, key_of
from pipelines.archive.versions import ArchivedVersions
from schemas.common import record_sha256
from schemas.ids import source_stream
from tests.sync.support import archived

SOURCE_ID = "65c3fdd9527bf900079cefcb"


def _digest(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def test_loaded_and_added_keys_are_found_and_nothing_else():
    loaded = [_digest(i) for i in range(0, 3000, 2)]  # even numbers, loaded from "files"
    keys = KeySet(64)
    keys.extend_arrow(pa.array(loaded[:700] + [None]))
    keys.extend_arrow(pa.chunked_array([pa.array(loaded[700:])]))
    keys.add(key_of(_digest(i)) for i in range(1, 100, 2))  # odd numbers below 200, added
    keys.add(key_of(_digest(i)) for i in range(101, 200, 2))  # during the "run", page by page
    probe = list(range(3000))
    found = keys.contains([key_of(_digest(i)) for i in probe])
    assert found == [i % 2 == 0 or i < 200 for i in probe]
    assert len(keys) == 1500 + 100


def test_folding_into_the_array_keeps_every_key(monkeypatch):
    monkeypatch.setattr(exact_keys, "FOLD_EVERY", 7)
    keys = KeySet(32)
    added = [f"{random.Random(i).getrandbits(96):024x}" for i in range(100)]
    for i, key in enumerate(added):
        keys.add([key_of(key), key_of(key)])  # a repeat is harmless
        assert keys.contains([key_of(k) for k in added[: i + 1]]) == [True] * (i + 1)
    assert len(keys) == 100
    assert keys.contains([b"0" * 24, b"f" * 24]) == [False, False]


@pytest.mark.parametrize(
    "column",
    [
        lambda values: pa.array(["pad", *values, "pad"]).slice(1, len(values)),  # an offset
        lambda values: pa.array(values, pa.large_string()),
        lambda values: pa.array(values).dictionary_encode(),
        lambda values: pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])]),
    ],
)
def test_every_string_column_form_loads_the_same_keys(column):
    values = [_digest(i) for i in range(5)]
    keys = KeySet(64)
    keys.extend_arrow(column(values))
    assert len(keys) == 5
    assert keys.contains([key_of(v) for v in values] + [key_of("pad")]) == [True] * 5 + [False]


@pytest.mark.parametrize(
    "odd",
    [
        "x" * 33,  # longer than the width
        "ab\x00",  # a NUL byte, NumPy's padding
        "ab",  # a prefix of another key
        "ab\x00\x00",
        "",
        "\ud800",  # a lone surrogate
        "ä" * 16,  # 16 characters, 32 bytes: fits exactly
        "ä" * 17,  # 17 characters, 34 bytes: does not
    ],
)
def test_odd_keys_are_exact(odd):
    keys = KeySet(32)
    keys.extend_arrow(pa.array(["abc", odd], pa.string()) if odd != "\ud800" else pa.array(["abc"]))
    if odd == "\ud800":
        keys.add([key_of(odd)])
    probes = [odd, "abc", "ab", "ab\x00", "abc\x00", "x" * 34, "ä" * 16]
    want = [p in ("abc", odd) for p in probes]
    assert keys.contains([key_of(p) for p in probes]) == want


def _record(i: int, body: str = "hi") -> dict:
    return {"id": f"{i:024x}", "creationTime": "2024-01-01T00:00:00Z", "body": body}


def test_take_unseen_counts_new_ids_and_skips_repeats_within_a_page(ledger):
    versions = ArchivedVersions("contents")
    page = [_record(1), _record(2), _record(1), _record(1, "edited"), {"no": "id"}, "junk"]
    unseen = versions.take_unseen(page)
    assert [r for r in unseen.records] == [_record(1), _record(2), _record(1, "edited")] + page[4:]
    assert unseen.digests == [record_sha256(r) for r in unseen.records]
    assert unseen.new_ids == 2
    again = versions.take_unseen(page + [_record(3)])
    assert again.records == [_record(3)] and again.new_ids == 1


def test_load_holds_exactly_what_the_ledger_committed(ledger):
    stream = source_stream(SOURCE_ID)
    from datetime import UTC, datetime

    from schemas.contents import normalise_contents

    records = [_record(i) | {"channelId": SOURCE_ID} for i in range(50)]
    records += [_record(7, "edited") | {"channelId": SOURCE_ID}]
    normalised = normalise_contents(
        records, source_id=SOURCE_ID, run_id="r", batch_id="", archived_at=datetime.now(UTC)
    )
    ledger.commit_batch("contents", stream, {"contents": normalised.table}, cursor={}, run_id="r")
    loaded = ArchivedVersions.load(ledger, "contents", stream)
    committed = archived(ledger, SOURCE_ID)
    assert len(loaded.digests) == len(committed.versions) == 51
    assert loaded.has_versions([d for _, d in committed.versions]) == [True] * 51
    assert loaded.unknown_ids([f"{i:024x}" for i in range(48, 53)]) == {
        f"{i:024x}" for i in (50, 51, 52)
    }
    assert loaded.take_unseen(records).records == []
