"""Normalisation: the real QS sample, both field dialects, nasty inputs."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import agents, contents, identities, quarantine
from schemas.common import record_sha256
from schemas.contents import AuthorInfo, CreatorInfo, Resolved, normalise_contents
from schemas.ids import InvalidSourceIdError, validate_source_id
from tests.archive.support import NASTY, SOURCE_ID

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _normalise(records, **kwargs):
    return normalise_contents(
        records, source_id=SOURCE_ID, run_id="r", batch_id="b", archived_at=NOW, **kwargs
    )


def test_real_sample_round_trips(sample):
    result = _normalise([sample])
    assert result.quarantine.num_rows == 0
    row = result.table.to_pylist()[0]
    assert row["id"] == "65d684cc2796550007054f17"
    assert row["source_id"] == SOURCE_ID and row["source_type"] == "WhatsApp"
    assert row["direction"] == "inbound" and row["status"] == "Replied"
    assert row["creation_date"] == date(2024, 2, 21)
    assert row["creation_time"] == datetime(2024, 2, 21, 23, 18, 34, tzinfo=UTC)
    assert row["body_text"] == sample["bodyFormatted"]["Text"]
    assert row["body_html"].startswith("<p>Great")
    assert row["capabilities_supported"] == ["template", "list"]
    assert row["attachments"][0]["size"] == 326705
    assert json.loads(row["raw_json"]) == sample
    assert list(json.loads(row["raw_json"])) == list(sample)  # key order as received
    # The version hash: the canonical JSON of the record without its attachments' signed
    # links (the real sample's link carries a query string), computed here by hand.
    assert row["record_sha256"] != record_sha256(sample)
    identity = dict(sample)
    identity["attachments"] = [
        {k: v for k, v in a.items() if k != "uri"} for a in sample["attachments"]
    ]
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert row["record_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_gen2_dialect_and_resolution(sample):
    gen2 = {k: v for k, v in sample.items() if not k.startswith("source")}
    gen2.update(
        channelId=SOURCE_ID.upper(),
        channelType="WhatsApp",
        channelUri="https://x",
        contentDirection="Outgoing",
        status="Replied",
        creatorId="63317565004",
        bodyFormatted={"text": "t", "html": "h"},
        creationTime="2024-02-21T23:18:34.567+02:00",
    )
    resolved = Resolved(
        authors={sample["authorIdentityId"]: AuthorInfo("John Doe", False)},
        creators={"63317565004": CreatorInfo("Agent A", "101", "a@example.com")},
    )
    row = _normalise([gen2], resolved=resolved).table.to_pylist()[0]
    assert row["source_id"] == SOURCE_ID and row["source_uri"] == "https://x"
    assert row["direction"] == "outbound" and row["content_direction"] == "Outgoing"
    assert (row["body_text"], row["body_html"]) == ("t", "h")
    assert row["creation_time"] == datetime(2024, 2, 21, 21, 18, 34, 567000, tzinfo=UTC)
    assert row["author_display_name"] == "John Doe" and row["author_is_agent"] is False
    assert (row["creator_name"], row["creator_email"]) == ("Agent A", "a@example.com")


@pytest.mark.parametrize(
    "status, direction",
    [("New", "inbound"), ("UserReply", "outbound"), ("PendingApproval", "outbound"), ("X", None)],
)
def test_direction_from_status(sample, status, direction):
    sample["status"] = status
    assert _normalise([sample]).table.column("direction")[0].as_py() == direction


def test_nasty_inputs_are_never_lost():
    result = _normalise(NASTY)
    assert result.table.num_rows + result.quarantine.num_rows == len(NASTY)
    assert set(result.table.column("id").to_pylist()) == {"a", "b", "c"}
    reasons = result.quarantine.column("reason").to_pylist()
    assert all(reasons)
    assert any("differs from the partition" in r for r in reasons)
    assert any("not valid UTF-8" in r for r in reasons)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
record_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=30), st.integers(), st.none()),
        "creationTime": st.one_of(
            st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=30), st.none()
        ),
        "body": st.one_of(st.text(), st.integers()),
        "status": st.one_of(st.sampled_from(["New", "UserReply", "Odd"]), st.integers()),
        "attachments": st.lists(st.dictionaries(st.text(max_size=10), json_values), max_size=2),
        "public": json_values,
        "rating": json_values,
        "bodyFormatted": json_values,
        "extra": json_values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(record_like, json_values), max_size=8))
def test_any_input_ends_in_table_or_quarantine(records):
    result = _normalise(records)
    assert result.table.num_rows + result.quarantine.num_rows == len(records)
    assert result.table.schema.equals(contents.ARROW_SCHEMA)
    assert result.quarantine.schema.equals(quarantine.ARROW_SCHEMA)


@pytest.mark.parametrize("bad", ["../etc", "a,b", "a|b", " " * 24, "", "g" * 24, "0" * 25, None])
def test_invalid_source_ids_are_refused(bad):
    with pytest.raises(InvalidSourceIdError, match="24 hexadecimal"):
        validate_source_id(bad)


def test_source_id_normalised_to_lowercase():
    assert validate_source_id("65C3FDD9527BF900079CEFCB") == SOURCE_ID


def test_identities_and_agents():
    ident = identities.normalise_identities(
        [
            {"id": "i1", "userIds": ["63317565004"]},
            {"id": "i2", "userIds": []},
            {"id": "i3", "identityType": "Agent"},
            {"id": "i4", "creationTime": "bad"},
        ],
        source_id=SOURCE_ID,
        run_id="r",
        batch_id="b",
        archived_at=NOW,
    )
    assert ident.table.column("identity_type").to_pylist() == ["Agent", "Customer", "Agent"]
    assert ident.quarantine.num_rows == 1
    agent = agents.normalise_extensions(
        [{"id": 208594004, "name": "S N", "contact": {"email": "e@x"}, "extensionNumber": "101"}],
        run_id="r",
        batch_id="b",
        archived_at=NOW,
        not_found_ids=["42"],
    )
    rows = agent.table.to_pylist()
    assert [(r["extension_id"], r["resolution"]) for r in rows] == [
        ("208594004", "found"),
        ("42", "not_found"),
    ]
    assert rows[0]["email"] == "e@x"
    single = agents.not_found_agent_row(7, run_id="r", batch_id="b", archived_at=NOW)
    assert single.column("resolution").to_pylist() == ["not_found"]
