"""The access trail's sensor: a run a person launched gets one access event in the archive's
trail; a scheduled run gets none (a real Dagster instance and a local archive)."""

from __future__ import annotations

import json

import dagster as dg

from assets.resources import ArchiveResource
from assets.sensors import access_trail_runs
from pipelines.archive.store import LocalStore
from pipelines.governance.access_trail import verify_trail


@dg.op
def _noop() -> None:
    return None


@dg.job
def _person_job() -> None:
    _noop()


def _evaluate(instance: dg.DagsterInstance, tags: dict[str, str], archive: ArchiveResource):
    result = _person_job.execute_in_process(instance=instance, tags=tags)
    run = instance.get_run_by_id(result.run_id)
    [start] = [
        record.get_dagster_event()
        for record in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_START)
    ]
    context = dg.build_run_status_sensor_context(
        sensor_name="access_trail_runs",
        dagster_event=start,
        dagster_instance=instance,
        dagster_run=run,
        resources={"archive": archive},
    )
    return result.run_id, access_trail_runs(context)


def test_a_run_a_person_launched_is_in_the_trail_a_scheduled_one_is_not(tmp_path):
    store_root = tmp_path / "archive"
    store_root.mkdir()
    archive = ArchiveResource(archive_uri=str(store_root))
    with dg.instance_for_test() as instance:
        run_id, _ = _evaluate(instance, {"dagster/user": "dana@example.com"}, archive)
        _, skipped = _evaluate(instance, {"dagster/schedule_name": "archive_every_15_min"}, archive)
    assert isinstance(skipped, dg.SkipReason)
    store = LocalStore(store_root)
    events = [json.loads(store.get(key)) for key in store.list("_access/")]
    assert len(events) == 1
    [event] = events
    assert event["command"] == "dagster-run" and event["arguments"]["run_id"] == run_id
    assert event["arguments"]["job"] == "_person_job" and event["user"] == "dana@example.com"
    count, findings = verify_trail(store)
    assert count == 1 and not findings
