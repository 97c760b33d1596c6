"""The columnar fast path and the row-by-row path of normalise_contents give the same result.

The fast path may only take a record when the row-by-row path would produce the same row; every
other record must be handed back. These tests feed both paths the same nasty variations of the
real sample and require identical tables and identical quarantine tables.
"""

from __future__ import annotations

import copy
import enum
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.contents import AuthorInfo, CreatorInfo, Resolved, _normalise
from tests.archive.support import SAMPLE, SOURCE_ID

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Colour(enum.StrEnum):
    RED = "red"


TIMES = [
    "2024-02-21T23:18:34Z",
    "2024-02-21T23:18:34.567Z",
    "2024-02-21T23:18:34.567+02:00",
    "2024-02-21T23:18:34",
    "2024-02-21T23:18:34.5Z",
    "2024-02-30T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999Z",
    "2024-01-01T24:00:00Z",
    "",
    "yesterday",
    1700000000,
]
ODD_VALUES = [None, "", "x", 0, 1, -(2**31), 2**31, 2**63, 1.5, 1.0, True, False, [], ["a"]]
ODD_VALUES += [["a", None], "abc", {}, {"a": 1}, ("t",), Colour.RED, float("nan")]
FIELD_VALUES = {
    "id": st.sampled_from(["65d684cc2796550007054f17", "", "a b", None, 7, Colour.RED]),
    "sourceId": st.sampled_from([SOURCE_ID, SOURCE_ID.upper(), "0" * 24, None, 5]),
    "channelId": st.sampled_from([SOURCE_ID, SOURCE_ID.upper(), "1" * 24, None, "\u212a"]),
    "sourceType": st.sampled_from(["WhatsApp", "Facebook", None, 3]),
    "channelType": st.sampled_from(["WhatsApp", "Facebook", None]),
    "creationTime": st.sampled_from([*TIMES, None]),
    "lastModifiedTime": st.sampled_from([*TIMES, None]),
    "creatorId": st.sampled_from(["63317565004", 63317565004, None, 1.5]),
    "status": st.sampled_from(["New", "UserReply", "Odd", None, 1]),
    "contentDirection": st.sampled_from(["Incoming", "Outgoing", "Sideways", None]),
    "bodyFormatted": st.sampled_from(
        [
            {"Text": "t", "Html": "h"},
            {"text": "t", "html": "h"},
            {"Text": "t", "text": "u"},
            {"TEXT": "t"},
            {"Text": None},
            {"Text": 5},
            {"Markdown": "m"},
            ["t", "h"],
            ("t", "h", "x", "y"),
            None,
        ]
    ),
    "rating": st.sampled_from(ODD_VALUES),
    "public": st.sampled_from(ODD_VALUES),
    "body": st.sampled_from(ODD_VALUES),
    "categoryIds": st.sampled_from(ODD_VALUES),
    "capabilitiesSupported": st.sampled_from(ODD_VALUES),
    "contextData": st.sampled_from([None, {"a": [1, "é"]}, "text", ("t",), 2**70]),
    "attachments": st.sampled_from(
        [
            None,
            [],
            [{"id": "a", "size": 5, "creationTime": "2024-02-21T23:18:34Z"}],
            [{"id": "a", "size": -1}],
            [{"id": "a", "size": 1.5}],
            [{"id": "a", "size": True}],
            [{"id": "a", "creationTime": "2024-02-30T00:00:00Z"}],
            [{"id": "a", "creationTime": "2024-02-21T23:18:34+01:00"}],
            [{"embedded": 1}],
            [None],
            [("a",)],
            "x",
        ]
    ),
    "unknownField": st.sampled_from([None, ("t",), {"deep": [1]}, "x\ud800"]),
}


def _variant(changes: dict) -> dict:
    record = copy.deepcopy(SAMPLE)
    for key, value in changes.items():
        if value == "<delete>":
            record.pop(key, None)
        else:
            record[key] = value
    return record


variants = st.dictionaries(
    st.sampled_from(sorted(FIELD_VALUES)),
    st.just("<delete>"),
    max_size=2,
).flatmap(
    lambda deleted: st.fixed_dictionaries(
        {}, optional={key: value for key, value in FIELD_VALUES.items() if key not in deleted}
    ).map(lambda changes: _variant({**dict.fromkeys(deleted, "<delete>"), **changes}))
)
RESOLVED = Resolved(
    authors={SAMPLE["authorIdentityId"]: AuthorInfo("John Doe", False)},
    creators={"63317565004": CreatorInfo("Agent A", "101", "a@example.com")},
)


def _both(records: list, resolved: Resolved | None = None):
    kwargs = dict(source_id=SOURCE_ID, run_id="r", batch_id="b", archived_at=NOW)
    fast = _normalise(records, resolved=resolved, columnar=True, **kwargs)
    slow = _normalise(records, resolved=resolved, columnar=False, **kwargs)
    return fast, slow


def _assert_same(fast, slow) -> None:
    assert fast.table.schema.equals(slow.table.schema)
    assert fast.table.to_pylist() == slow.table.to_pylist()
    assert fast.quarantine.to_pylist() == slow.quarantine.to_pylist()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(variants, st.sampled_from([None, "x", [1], {}])), max_size=6),
    st.booleans(),
)
def test_fast_and_row_paths_agree(records, with_resolved):
    fast, slow = _both(records, RESOLVED if with_resolved else None)
    _assert_same(fast, slow)
    assert fast.table.num_rows + fast.quarantine.num_rows == len(records)


def test_fast_path_takes_plain_records_and_keeps_order():
    records = [_variant({"id": f"{i:024x}"}) for i in range(10)]
    records[3]["rating"] = 1.5  # Arrow would store 1: must go row by row and be quarantined
    records[6]["creationTime"] = "2024-02-21T23:18:34+01:00"  # rarer shape: row by row, kept
    fast, slow = _both(records)
    _assert_same(fast, slow)
    assert fast.table.column("id").to_pylist() == [f"{i:024x}" for i in range(10) if i != 3]
    assert "rating: expected int32" in fast.quarantine.column("reason")[0].as_py()


@pytest.mark.parametrize("size", [1, 4095, 4097, 9000])
def test_chunk_boundaries(size):
    records = [_variant({"id": f"{i:024x}"}) for i in range(size)]
    records[-1]["body"] = 5
    fast, slow = _both(records)
    _assert_same(fast, slow)
    assert fast.quarantine.num_rows == 1
