"""The schedule and the discovery sensor decide what to run; both evaluated on a real instance."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, RingCentralResource
from assets.schedules import archive_schedule
from assets.sensors import new_source_keys, source_discovery


def _resource(sb) -> RingCentralResource:
    env = sb.env
    return RingCentralResource(
        server_url=env["RC_SERVER_URL"],
        client_id=env["RC_APP_CLIENT_ID"],
        client_secret=env["RC_APP_CLIENT_SECRET"],
        user_jwt=env["RC_USER_JWT"],
    )


def test_discovery_adds_configured_and_sampled_sources_once(sandbox, monkeypatch):
    first, *others = sandbox.world.source_ids
    monkeypatch.setenv("RC_SOURCE_IDS", first)
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(
        instance=instance, resources={"ringcentral": _resource(sandbox)}
    )
    result = source_discovery(context)
    [request] = result.dynamic_partitions_requests
    assert request.partition_keys[0] == first
    # Every readable channel shows up in the sample; the hidden one never does.
    assert set(request.partition_keys) == set(sandbox.world.source_ids)
    assert not set(request.partition_keys) & set(sandbox.world.hidden_source_ids)

    instance.add_dynamic_partitions(sources_partitions.name, list(request.partition_keys))
    again = source_discovery(
        dg.build_sensor_context(instance=instance, resources={"ringcentral": _resource(sandbox)})
    )
    assert isinstance(again, dg.SkipReason)


def test_invalid_sampled_ids_never_become_partitions():
    assert new_source_keys(set(), [], ["../etc", "a,b", "65C3FDD9527BF900079CEFCB"]) == [
        "65c3fdd9527bf900079cefcb"
    ]


def test_schedule_requests_one_run_per_known_source(sandbox, tmp_path):
    # The first tick of a day runs every known source (the probe decides the later ticks:
    # tests/assets/test_schedule_probe.py).
    keys = ["65c3fdd9527bf900079cefcb", "65c3fdd9527bf900079cefcc"]
    tick = datetime(2026, 11, 27, 12, 15, tzinfo=UTC)
    resources = {
        "ringcentral": _resource(sandbox),
        "archive": ArchiveResource(archive_uri=str(tmp_path / "archive")),
    }
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, resources=resources
        )
        assert isinstance(archive_schedule(context), dg.SkipReason)
        instance.add_dynamic_partitions(sources_partitions.name, keys)
        requests = archive_schedule(
            dg.build_schedule_context(
                instance=instance, scheduled_execution_time=tick, resources=resources
            )
        )
    assert [r.partition_key for r in requests] == keys
    assert len({r.run_key for r in requests}) == 2
