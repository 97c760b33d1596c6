"""Helpers for archive tests: real sample records and normalised batches."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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
