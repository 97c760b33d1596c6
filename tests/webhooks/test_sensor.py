"""The webhook sensor: a burst is one run, a busy source waits, the cursor moves per source."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRunStatus

from assets.jobs import SOURCE_TAG
from assets.partitions import sources_partitions
from pipelines.webhooks.events import log_event
from pipelines.webhooks.subscription import ensure_subscription
from tests.webhooks.support import TOKEN, add_run, client_for, evaluate_sensor


def _note(source_id: str, content_id: str = "c") -> dict:
    resource = {"id": content_id, "channelId": source_id, "body": "hi"}
    return {"uuid": content_id, "event": "x", "body": {"resource": resource}}


def test_a_burst_of_webhooks_for_one_source_is_one_run(
    sandbox_factory, store, receiver, archive_uri
):
    sb = sandbox_factory(contents=100)
    with client_for(sb) as client:
        ensure_subscription(client, store, address=receiver.url, verification_token=TOKEN)
    source_id = sb.world.source_ids[0]
    for i in range(25):
        sb.world.add_content(source_id, body=f"burst {i}")
    assert sb.webhooks.wait_idle(10)
    with dg.instance_for_test() as instance:
        result = evaluate_sensor(instance, archive_uri)
        [request] = result.run_requests
        assert request.partition_key == source_id
        assert request.tags[SOURCE_TAG] == source_id
        assert request.tags["rc-archive/webhook-events"] == "25"
        # The source was not a partition yet: the same result adds it.
        [added] = result.dynamic_partitions_requests
        assert list(added.partition_keys) == [source_id]
        # Nothing new since: the next tick requests nothing.
        again = evaluate_sensor(instance, archive_uri, result.cursor)
        assert isinstance(again, dg.SkipReason)


def test_a_source_with_a_run_in_progress_gets_no_second_run(store, archive_uri):
    busy, idle = "65c3fdd9527bf900079cefcb", "65c3fdd9527bf900079cefcc"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(sources_partitions.name, [busy, idle])
        log_event(store, _note(busy, "a"))
        first = evaluate_sensor(instance, archive_uri)
        assert [r.partition_key for r in first.run_requests] == [busy]
        add_run(instance, busy, DagsterRunStatus.STARTED)  # the daemon launched it
        log_event(store, _note(busy, "b"))
        log_event(store, _note(busy, "c"))
        log_event(store, _note(idle, "d"))
        second = evaluate_sensor(instance, archive_uri, first.cursor)
        assert [r.partition_key for r in second.run_requests] == [idle]
        # Still running: its events keep waiting (not dropped from the cursor's view).
        third = evaluate_sensor(instance, archive_uri, second.cursor)
        assert isinstance(third, dg.SkipReason)
        # A run created but not started yet counts as in progress too.
        add_run(instance, idle, DagsterRunStatus.NOT_STARTED)
        log_event(store, _note(idle, "e"))
        assert isinstance(evaluate_sensor(instance, archive_uri, second.cursor), dg.SkipReason)
    with dg.instance_for_test() as fresh:
        # Once no run is in progress, the waiting events cost one run per source.
        add_run(fresh, busy, DagsterRunStatus.SUCCESS)
        fourth = evaluate_sensor(fresh, archive_uri, second.cursor)
        assert sorted(r.partition_key for r in fourth.run_requests) == sorted([busy, idle])
        assert {r.tags["rc-archive/webhook-events"] for r in fourth.run_requests} == {"2", "1"}


def test_events_without_a_source_advance_the_cursor_but_run_nothing(store, archive_uri):
    log_event(store, {"event": "x", "body": {"resource": {}}})
    with dg.instance_for_test() as instance:
        result = evaluate_sensor(instance, archive_uri)
        assert not result.run_requests and "unknown" in result.cursor
        assert isinstance(evaluate_sensor(instance, archive_uri, result.cursor), dg.SkipReason)


def test_sensor_is_registered_with_the_archive_job():
    from assets.definitions import defs

    sensor = defs.get_sensor_def("webhook_events")
    assert sensor.job_name == "archive_sources"
    assert sensor.minimum_interval_seconds == 15
