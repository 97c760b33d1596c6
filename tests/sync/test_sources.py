"""Which requested sources RingCentral has (pipelines/sync/sources.py), and what asking costs:
one contents request for every source never archived together, none for an archived one.

A dedicated sandbox with a seed of its own: its source ids are this module's alone, so what the
process already learnt about other worlds' sources cannot answer for them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.sync.sources import UnknownSourceError, require_known_sources, unknown_sources
from schemas.contents import normalise_contents
from schemas.ids import source_stream
from tests.sync.support import client_for

CONTENTS_PATH = "/cx/social-messaging/v1/contents"
UNKNOWN = "0123456789abcdef01234567"


@pytest.fixture
def world(sandbox_factory):
    return sandbox_factory(seed=4242, sources=3, contents=300)


def _contents_requests(sb) -> int:
    return sb.stats.requests(path_prefix=CONTENTS_PATH)


def test_sources_the_api_lists_are_known_for_one_request_then_none(world, ledger):
    with client_for(world) as client:
        before = _contents_requests(world)
        assert unknown_sources(client, ledger, world.world.source_ids) == []
        assert _contents_requests(world) - before == 1
        # Listed once in this process: the contents step of the same run asks nothing again.
        assert unknown_sources(client, ledger, world.world.source_ids) == []
        assert _contents_requests(world) - before == 1


def test_an_archived_source_is_known_without_a_request(world, ledger):
    """A source the agent lost Read on: the API lists nothing of it, the archive vouches."""
    hidden = world.world.hidden_source_ids[0]
    records = list(world.world.all_contents(hidden))[:5]
    batch = normalise_contents(
        records, source_id=hidden, run_id="seed", batch_id="", archived_at=datetime.now(UTC)
    )
    ledger.commit_batch(
        "contents",
        source_stream(hidden),
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor={"high_water_time": max(r["creationTime"] for r in records)},
        run_id="seed",
    )
    with client_for(world) as client:
        before = _contents_requests(world)
        assert unknown_sources(client, ledger, [hidden]) == []
        assert _contents_requests(world) == before


def test_an_unknown_source_is_refused_naming_the_known_ones(world, ledger):
    known = world.world.source_ids[0]
    hidden = world.world.hidden_source_ids[0]  # no Read: the API lists nothing of it either
    with client_for(world) as client, pytest.raises(UnknownSourceError) as refused:
        require_known_sources(client, ledger, [UNKNOWN, known, hidden])
    assert refused.value.unknown == [UNKNOWN, hidden]
    assert refused.value.known == [known]
    message = str(refused.value)
    assert message.startswith(f"unknown sources {UNKNOWN}, {hidden}: RingCentral lists no ")
    assert f"known sources: {known} (`rc-archive sources`" in message
    assert "\n" not in message
    assert ledger.streams("contents") == []
