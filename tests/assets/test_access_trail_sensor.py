"""The access trail's sensor on a real Dagster instance and a local archive: a run a person
launched (one run of the UI, each run of a UI backfill) gets exactly one access event, a run of
a schedule or a sensor (the webhook sensor's, the archive schedule's) none, whatever runs start
together, however often the sensor is evaluated and whether or not a tick's cursor was saved.

The sensor is evaluated as the daemon evaluates it (`evaluate_tick`), and the cursor carried
from tick to tick as the daemon stores it: after a tick that returned, its cursor; after a tick
that raised, the previous one. The runs are real runs of the instance (a stand-in job named
like the archive job, so no API is needed to run them), carrying the tags Dagster gives them:
the backfill's from Dagster's own tag functions, the webhook run's from evaluating the real
`webhook_events` sensor on a logged event, the schedule's from evaluating the real
`archive_schedule` against the sandbox."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import RUN_KEY_TAG
from dagster._core.utils import make_new_backfill_id

from assets.definitions import defs
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, RingCentralResource
from assets.schedules import archive_schedule
from assets.sensors import AccessTrailCursor, access_trail_runs, webhook_events
from pipelines.archive.store import LocalStore
from pipelines.governance.access_trail import AccessTrail, verify_trail
from pipelines.settings import Settings
from pipelines.webhooks.events import log_event


@dg.op
def _noop() -> None:
    return None


@dg.job(name="archive_sources")
def _archive_run() -> None:
    """Stands in for the archive job: the sensor reads a run's job name and tags only."""
    _noop()


@dg.job(name="refresh_audit_views_job")
def _views_run() -> None:
    _noop()


class Ticks:
    """The daemon's side: evaluate the sensor and keep the cursor it would store."""

    def __init__(self, instance: dg.DagsterInstance, archive: ArchiveResource) -> None:
        self.instance = instance
        self.archive = archive
        self.cursor: str | None = None

    def evaluate(self, cursor: str | None = None):
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor if cursor is None else cursor,
            resources={"archive": self.archive},
        )
        data = access_trail_runs.evaluate_tick(context)
        # One answer per tick: a skip, or the runs it acted on; never both, never a run.
        assert not data.run_requests
        assert not (data.skip_message and data.dagster_run_reactions), data
        self.cursor = data.cursor
        return data


def _person_runs(data) -> list[str]:
    return [reaction.dagster_run.run_id for reaction in data.dagster_run_reactions]


def _events(root) -> list[dict]:
    store = LocalStore(root)
    return [json.loads(store.get(key)) for key in store.list("_access/")]


def _recorded_run_ids(root) -> list[str]:
    return sorted(
        event["arguments"]["run_id"] for event in _events(root) if event["command"] == "dagster-run"
    )


def _archive(tmp_path) -> tuple[ArchiveResource, object]:
    root = tmp_path / "archive"
    root.mkdir()
    return ArchiveResource(archive_uri=str(root)), root


def _backfill_tags(instance: dg.DagsterInstance, backfill_id: str, key: str) -> dict[str, str]:
    """A run of a UI backfill of the archive job (Materialize, a set of sources): the job's
    partition tags (`dagster/partition`, `dagster/partition_set`) and `dagster/backfill`, as
    Dagster's backfill daemon writes them. Dagster OSS adds no user tag; Dagster+ adds
    `dagster/user`."""
    job = defs.resolve_job_def("archive_sources")
    with partition_loading_context(dynamic_partitions_store=instance):
        partition_tags = job.partitioned_config.get_tags_for_partition_key(key, job_name=job.name)
    return {**partition_tags, **DagsterRun.tags_for_backfill_id(backfill_id)}


def _webhook_run_tags(instance: dg.DagsterInstance, archive: ArchiveResource, key: str) -> dict:
    """The run the `webhook_events` sensor requests for a logged event, with the tags the
    sensor machinery adds (`dagster/sensor_name`) and the daemon's run key."""
    log_event(
        archive.store(),
        {"uuid": "n-1", "event": "x", "body": {"resource": {"id": "c-1", "channelId": key}}},
    )
    context = dg.build_sensor_context(
        instance=instance, resources={"archive": archive}, definitions=defs
    )
    with partition_loading_context(dynamic_partitions_store=instance):
        data = webhook_events.evaluate_tick(context)
    [request] = [request for request in data.run_requests if request.partition_key == key]
    return {**request.tags, RUN_KEY_TAG: request.run_key}


def _schedule_run_tags(instance: dg.DagsterInstance, sb, archive: ArchiveResource) -> dict:
    """A run of the archive schedule's tick (its first of the day runs every known source), with
    the tag the scheduler adds (`dagster/schedule_name`)."""
    env = sb.env
    resources = {
        "ringcentral": RingCentralResource(
            server_url=env["RC_SERVER_URL"],
            client_id=env["RC_APP_CLIENT_ID"],
            client_secret=env["RC_APP_CLIENT_SECRET"],
            user_jwt=env["RC_USER_JWT"],
        ),
        "archive": archive,
    }
    context = dg.build_schedule_context(
        instance=instance, resources=resources, scheduled_execution_time=datetime.now(UTC)
    )
    request = archive_schedule(context)[0]
    job = defs.resolve_job_def("archive_sources")
    with partition_loading_context(dynamic_partitions_store=instance):
        partition_tags = job.partitioned_config.get_tags_for_partition_key(
            request.partition_key, job_name=job.name
        )
    return {**request.tags, **partition_tags, **DagsterRun.tags_for_schedule(archive_schedule)}


def test_backfill_webhook_and_schedule_runs_together_one_event_per_person_run(sandbox, tmp_path):
    archive, root = _archive(tmp_path)
    keys = sandbox.world.source_ids
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(sources_partitions.name, keys)
        ticks = Ticks(instance, archive)
        assert "from now on" in ticks.evaluate().skip_message  # the first tick: the start
        backfill = make_new_backfill_id()

        def run(job: dg.JobDefinition, tags: dict[str, str]) -> str:
            return job.execute_in_process(instance=instance, tags=tags).run_id

        webhook_tags = _webhook_run_tags(instance, archive, keys[1])
        schedule_tags = _schedule_run_tags(instance, sandbox, archive)
        assert webhook_tags["dagster/sensor_name"] == "webhook_events"
        assert schedule_tags["dagster/schedule_name"] == "archive_schedule"
        # As they start on a busy afternoon: a backfill's runs among a webhook run and a
        # scheduled run, and the views rebuilt by hand.
        person = [run(_archive_run, _backfill_tags(instance, backfill, keys[0]))]
        webhook = run(_archive_run, webhook_tags)
        person.append(run(_archive_run, _backfill_tags(instance, backfill, keys[1])))
        scheduled = run(_archive_run, schedule_tags)
        person.append(run(_archive_run, _backfill_tags(instance, backfill, keys[2])))
        person.append(run(_views_run, {}))

        # The tick that failed as a run-status sensor: both kinds of run at once.
        first = ticks.evaluate()
        assert _person_runs(first) == person
        assert not any(reaction.error for reaction in first.dagster_run_reactions)
        for _ in range(3):  # later ticks: nothing new
            assert "no run started" in ticks.evaluate().skip_message
        # Only automated runs start: one skip, the cursor moves past them.
        before = AccessTrailCursor.load(ticks.cursor).after_event
        also_automated = run(_archive_run, _webhook_run_tags(instance, archive, keys[0]))
        skipped = ticks.evaluate()
        assert "nothing to record" in skipped.skip_message
        assert AccessTrailCursor.load(ticks.cursor).after_event > before
        assert "no run started" in ticks.evaluate().skip_message

    assert _recorded_run_ids(root) == sorted(person)
    assert not {webhook, scheduled, also_automated} & set(_recorded_run_ids(root))
    events = {event["arguments"]["run_id"]: event for event in _events(root)}
    assert events[person[0]]["arguments"]["backfill"] == backfill
    assert events[person[0]]["arguments"]["partition"] == keys[0]
    assert events[person[-1]]["arguments"]["job"] == "refresh_audit_views_job"
    count, findings = verify_trail(LocalStore(root))
    assert count == len(person) and not findings


def test_a_tick_whose_cursor_was_lost_writes_nothing_again(tmp_path):
    """A tick stored its events, then its cursor was not saved (killed, timed out): the next
    tick starts from the old cursor and finds the events in the trail."""
    archive, root = _archive(tmp_path)
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance, archive)
        ticks.evaluate()
        started = ticks.cursor
        person = [
            _archive_run.execute_in_process(instance=instance, tags=tags).run_id
            for tags in ({"dagster/user": "dana@example.com"}, {})
        ]
        assert _person_runs(ticks.evaluate()) == person
        assert _recorded_run_ids(root) == sorted(person)
        again = ticks.evaluate(cursor=started)  # as if the daemon never saved that tick
        assert _person_runs(again) == person  # acted on, found recorded
        # Ticks that record nothing follow the trail's end (an auditor's query here), so the
        # next look for recorded runs reads only what is newer.
        query = AccessTrail(LocalStore(root), Settings()).append({"command": "sql", "status": "ok"})
        assert "no run started" in ticks.evaluate().skip_message
        assert AccessTrailCursor.load(ticks.cursor).trail_key == query.key
    assert _recorded_run_ids(root) == sorted(person)
    assert (
        next(e for e in _events(root) if e["arguments"]["run_id"] == person[0])["user"]
        == "dana@example.com"
    )
    assert verify_trail(LocalStore(root)) == (3, [])


def test_a_failed_write_fails_the_tick_after_the_runs_recorded_before_it(tmp_path):
    """The second event's key cannot be taken (a directory stands there): the tick records the
    first run, fails on the second with the error, and its cursor stops between them; once the
    trail can be written again the second and the third run are recorded, each once."""
    archive, root = _archive(tmp_path)
    today = datetime.now(UTC)
    # Seq 1 of today (the first event takes seq 0), and seq 0 of tomorrow should the day turn.
    blocked = [
        root / "_access" / today.strftime("%Y-%m-%d") / "0000000001.json",
        root / "_access" / (today + timedelta(days=1)).strftime("%Y-%m-%d") / "0000000000.json",
    ]
    with dg.instance_for_test() as instance:
        ticks = Ticks(instance, archive)
        ticks.evaluate()
        runs = [_archive_run.execute_in_process(instance=instance).run_id for _ in range(3)]
        for path in blocked:
            path.mkdir(parents=True)
        failed = ticks.evaluate()
        [ok, error] = failed.dagster_run_reactions
        assert ok.dagster_run.run_id == runs[0] and ok.error is None
        assert error.dagster_run.run_id == runs[1] and "access trail" in error.error.message
        assert _recorded_run_ids(root) == [runs[0]]
        for path in blocked:
            shutil.rmtree(path)
        assert _person_runs(ticks.evaluate()) == runs[1:]
        assert "no run started" in ticks.evaluate().skip_message
    assert _recorded_run_ids(root) == sorted(runs)
    assert verify_trail(LocalStore(root)) == (3, [])


@pytest.mark.parametrize(
    "raw, expected",
    [
        (None, AccessTrailCursor()),
        ("not json", AccessTrailCursor()),
        # The cursor this sensor kept as a run-status sensor: resumes after the same event.
        (
            '{"__class__": "RunStatusSensorCursor", "record_id": 41, "record_timestamp": null, '
            '"update_timestamp": null}',
            AccessTrailCursor(41, None),
        ),
        (
            '{"after_event": 7, "trail_key": "_access/2026-12-01/0000000003.json"}',
            AccessTrailCursor(7, "_access/2026-12-01/0000000003.json"),
        ),
    ],
)
def test_cursor_reads_its_own_and_the_run_status_sensor_format(raw, expected):
    assert AccessTrailCursor.load(raw) == expected
    assert AccessTrailCursor.load(expected.dump()) == expected
