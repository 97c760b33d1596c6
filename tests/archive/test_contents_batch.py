"""ContentsBatch: pages converted as they arrive give exactly what one call over all records gives.

The pipeline feeds the batch page by page and holds only Arrow between pages; these tests pin
that this changes nothing in the archived rows or the quarantine, wherever chunks and pages
split the input, and that pandera failures found at `take` are quarantined from the row's own
raw JSON (the record as received).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemas import contents_columnar
from schemas.contents import ContentsBatch, normalise_contents, version_sha256
from tests.archive.support import NASTY, SOURCE_ID, make_records

NOW = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def _mixed_records() -> list:
    records: list = make_records(40)
    for offset, bad in enumerate(NASTY):
        records.insert(offset * 3, bad)
    return records


def _one_call(records: list):
    return normalise_contents(
        records, source_id=SOURCE_ID, run_id="run-7", batch_id="b-1", archived_at=NOW
    )


@pytest.mark.parametrize("page", [1, 7, 16, 1000])
@pytest.mark.parametrize("chunk", [5, 4096])
def test_page_by_page_equals_one_call(page, chunk, monkeypatch):
    monkeypatch.setattr(contents_columnar, "CHUNK_RECORDS", chunk)
    records = _mixed_records()
    batch = ContentsBatch(source_id=SOURCE_ID)
    for start in range(0, len(records), page):
        batch.add(records[start : start + page])
    assert batch.records == len(records)
    paged = batch.take(run_id="run-7", batch_id="b-1", archived_at=NOW)
    whole = _one_call(records)
    assert paged.table.equals(whole.table)
    assert paged.quarantine.equals(whole.quarantine)
    assert paged.table.num_rows + paged.quarantine.num_rows == len(records)


def test_validation_failures_are_quarantined_from_their_raw_json():
    good = make_records(3)
    spaced = dict(good[1], id="a b")  # passes conversion, fails the model's id check
    batch = ContentsBatch(source_id=SOURCE_ID)
    batch.add([good[0], spaced])
    batch.add([good[2]])
    result = batch.take(run_id="run-7", batch_id="b-1", archived_at=NOW)
    assert result.table.column("id").to_pylist() == [good[0]["id"], good[2]["id"]]
    assert result.quarantine.num_rows == 1
    row = result.quarantine.to_pylist()[0]
    assert row["reason"].startswith("validation: id: failed str_matches")
    assert json.loads(row["raw_json"]) == spaced


def test_take_stamps_the_batch_and_starts_an_empty_one():
    batch = ContentsBatch(source_id=SOURCE_ID)
    batch.add(make_records(5) + ["not a record"])
    first = batch.take(run_id="run-7", batch_id="b-1", archived_at=NOW)
    assert set(first.table.column("run_id").to_pylist()) == {"run-7"}
    assert set(first.table.column("batch_id").to_pylist()) == {"b-1"}
    assert set(first.table.column("archived_at").to_pylist()) == {NOW}
    assert first.quarantine.column("quarantined_at").to_pylist() == [NOW]
    assert first.quarantine.column("run_id").to_pylist() == ["run-7"]
    assert batch.records == 0
    second = batch.take(run_id="run-8", batch_id="b-2", archived_at=NOW)
    assert second.table.num_rows == 0 and second.quarantine.num_rows == 0
    assert second.table.schema.equals(first.table.schema)


def test_digests_handed_in_give_the_same_batch():
    records = _mixed_records()
    with_digests = ContentsBatch(source_id=SOURCE_ID)
    with_digests.add(records, digests=[version_sha256(r) for r in records])
    assert with_digests.take(run_id="run-7", batch_id="b-1", archived_at=NOW) == _one_call(records)
    with pytest.raises(ValueError, match="2 digests for 3 records"):
        ContentsBatch(source_id=SOURCE_ID).add(make_records(3), digests=["a", "b"])
