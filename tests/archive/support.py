"""Helpers for archive tests: real sample records and normalised batches."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.archive.counting import CountingStore
from schemas.contents import normalise_contents

SOURCE_ID = "65c3fdd9527bf900079cefcb"
STREAM = f"source_id={SOURCE_ID}"
SAMPLE = json.loads((Path(__file__).parent / "data" / "qs_sample.json").read_text("utf-8"))


def make_records(n: int, start: int = 0, *, days: int = 2) -> list[dict]:
    base = datetime(2024, 2, 20, tzinfo=UTC)
    records = []
    for i in range(start, start + n):
        record = copy.deepcopy(SAMPLE)
        record["id"] = f"{i:024x}"
        moment = base + timedelta(days=i % days, seconds=i)
        record["creationTime"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        records.append(record)
    return records


def normalised_batch(records: list[dict]):
    return normalise_contents(
        records, source_id=SOURCE_ID, run_id="run-1", batch_id="", archived_at=datetime.now(UTC)
    )


@pytest.fixture
def sample() -> dict:
    return copy.deepcopy(SAMPLE)


def commit_records(ledger, start: int, n: int, *, days: int = 2):
    """Commit n sample records from `start` (spread over `days` days from 2024-02-20) as one
    contents batch of the test stream, with a cursor that only moves forward."""
    batch = normalised_batch(make_records(n, start, days=days))
    seq = ledger.state("contents", STREAM).head_seq + 1
    return ledger.commit_batch(
        "contents",
        STREAM,
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor={"high_water_time": f"2024-04-01T{seq // 60:02d}:{seq % 60:02d}:00.000Z"},
        run_id=f"run-{seq}",
    )


# Records every normaliser must take without losing one (rows + quarantine == input).
NASTY = [
    "not a dict",
    None,
    [1, 2],
    {},
    {"id": None},
    {"id": 17, "creationTime": "2024-01-01T00:00:00Z"},
    {"id": "a", "creationTime": "yesterday"},
    {"id": "a", "creationTime": 1700000000},
    {"id": "a", "creationTime": "2024-01-01T00:00:00Z", "body": 5},
    {"id": "a", "creationTime": "2024-01-01T00:00:00Z", "public": "yes"},
    {"id": "a", "creationTime": "2024-01-01T00:00:00Z", "rating": 2**40},
    {"id": "a", "creationTime": "2024-01-01T00:00:00Z", "categoryIds": "abc"},
    {"id": "a", "creationTime": "2024-01-01T00:00:00Z", "attachments": [{"size": "big"}]},
    {"id": "a", "creationTime": "2024-01-01T00:00:00Z", "sourceId": "0" * 24},
    {"id": "a", "creationTime": "2024-01-01T00:00:00Z", "body": "x\ud800y"},
    {"id": "a", "creationTime": "2024-01-01T00:00:00Z", "body": "nul\x00 rtl\u202e emoji 🧨"},
    {"id": "b", "creationTime": "2024-01-01T00:00:00Z", "body": "x" * 1_000_000},
    {"id": "c", "creationTime": "2024-01-01T00:00:00", "unknownField": {"deep": [1]}},
    {"id": "a b", "creationTime": "2024-01-01T00:00:00Z"},
]


class FailingStore(CountingStore):
    """Fault injection: the put of a chosen key fails as a killed process would leave it."""

    def __init__(self, store, fail_on) -> None:
        super().__init__(store)
        self._fail_on = fail_on

    def put(self, key, data, *, content_type):
        if self._fail_on(key):
            raise OSError(f"injected crash before writing {key}")
        return self._store.put(key, data, content_type=content_type)
