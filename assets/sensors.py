"""Source discovery: the API has no endpoint that lists channels, so sources are found.

Two ways in: RC_SOURCE_IDS (configured) and a sample of recent contents across every channel the
agent can read (a list call without a source filter). New, valid ids become partitions; invalid
ones are logged and never reach a key.
"""

import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.definitions.run_request import DagsterRunReaction
from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info

from assets.jobs import SOURCE_TAG, archive_job
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.governance.run_access import (
    record_run_access,
    recorded_run_ids,
    run_access_event,
    trail_head,
)
from pipelines.settings import Settings
from pipelines.webhooks.planning import WEBHOOK_TAG, load_cursor, plan_event_runs
from schemas.ids import valid_source_keys


def new_source_keys(known: set[str], configured: list[str], sampled: list[str]) -> list[str]:
    """Ids to add, in first-seen order: configured first, then sampled, minus known ones."""
    valid, _ = valid_source_keys([*configured, *sampled])
    return [key for key in valid if key not in known]


def sampled_source_ids(records: list[dict]) -> list[str]:
    """Channel ids of sampled contents in either field spelling (channelId / sourceId)."""
    ids: list[str] = []
    for record in records:
        if isinstance(record, dict):
            value = record.get("channelId") or record.get("sourceId")
            if isinstance(value, str):
                ids.append(value)
    return ids


@dg.sensor(
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds sources from RC_SOURCE_IDS and from a sample of recent contents.",
)
def source_discovery(
    context: dg.SensorEvaluationContext, ringcentral: RingCentralResource
) -> dg.SensorResult | dg.SkipReason:
    known = set(context.instance.get_dynamic_partitions(sources_partitions.name))
    configured = list(Settings.from_env(os.environ).source_ids)
    with ringcentral.client() as client:
        # One page of the newest contents of every channel the agent can read.
        newest_page = next(client.iter_content_pages(None, order_by="-creationTime"), None)
    sampled = sampled_source_ids(newest_page.records if newest_page else [])
    _, rejected = valid_source_keys(sampled)
    for raw in rejected:
        context.log.warning("ignored a sampled source id that is not 24 hex: %r", raw[:40])
    to_add = new_source_keys(known, configured, sampled)
    if not to_add:
        return dg.SkipReason(f"no new sources ({len(known)} known)")
    context.log.info("adding sources: %s", ", ".join(to_add))
    return dg.SensorResult(
        dynamic_partitions_requests=[sources_partitions.build_add_request(to_add)]
    )


# Run statuses that mean "this source is being archived now or will be shortly".
IN_PROGRESS_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def busy_sources(instance: dg.DagsterInstance) -> set[str]:
    """Sources with an archive run queued or running: one run-storage query."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=archive_job.name, statuses=IN_PROGRESS_STATUSES)
    )
    return {run.tags.get("dagster/partition") for run in runs} - {None}


@dg.sensor(
    job=archive_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the sources named by new webhook events (the receiver's event log), one "
    "run per source at a time; the 15-minute schedule stays the safety net.",
)
def webhook_events(
    context: dg.SensorEvaluationContext, archive: ArchiveResource
) -> dg.SensorResult | dg.SkipReason:
    plan = plan_event_runs(
        archive.store(), load_cursor(context.cursor), busy_sources(context.instance)
    )
    if not plan.runs:
        if plan.cursor != load_cursor(context.cursor):
            return dg.SensorResult(skip_reason=plan.describe(), cursor=plan.cursor_json)
        return dg.SkipReason(f"no new webhook events ({plan.describe()})")
    known = set(context.instance.get_dynamic_partitions(sources_partitions.name))
    new = [key for key in plan.runs if key not in known]
    requests = [
        dg.RunRequest(
            # The last event covered: a re-evaluated tick never launches the same run twice.
            run_key=f"webhook:{key}:{last}",
            partition_key=key,
            tags={SOURCE_TAG: key, WEBHOOK_TAG: str(count)},
        )
        for key, (count, last) in plan.runs.items()
    ]
    context.log.info("webhook events: %s", plan.describe())
    return dg.SensorResult(
        run_requests=requests,
        cursor=plan.cursor_json,
        dynamic_partitions_requests=[sources_partitions.build_add_request(new)] if new else [],
    )


# Run starts read per tick: a backfill of hundreds of sources is recorded over a few ticks.
ACCESS_TRAIL_BATCH = 100
# How far before a run's start its event is looked for: the run worker's clock and the
# daemon's, which dates the event, may disagree across midnight.
CLOCK_SKEW = timedelta(days=1)


@dataclass(frozen=True)
class AccessTrailCursor:
    """Where `access_trail_runs` stands: the storage id of the last run start it handled
    (`after_event`, None before its first tick) and the newest access-trail key it read or
    wrote (`trail_key`, where the look for already recorded runs resumes)."""

    after_event: int | None = None
    trail_key: str | None = None

    @classmethod
    def load(cls, raw: str | None) -> "AccessTrailCursor":
        """Also reads the cursor this sensor kept as a run-status sensor (`record_id`)."""
        try:
            value = json.loads(raw) if raw else {}
        except ValueError:
            value = {}
        if not isinstance(value, dict):
            value = {}
        after = value.get("after_event", value.get("record_id"))
        key = value.get("trail_key")
        return cls(
            after if isinstance(after, int) and not isinstance(after, bool) else None,
            key if isinstance(key, str) else None,
        )

    def dump(self) -> str:
        return json.dumps(
            {"after_event": self.after_event, "trail_key": self.trail_key}, sort_keys=True
        )


def _in_this_code_location(context: dg.SensorEvaluationContext, run: dg.DagsterRun) -> bool:
    """A run of this code location (as a run-status sensor matches runs by default); runs of
    other code locations sharing the instance act on no archive of this one."""
    origin = run.remote_job_origin
    run_place = (
        (
            origin.repository_origin.code_location_origin.location_name,
            origin.repository_origin.repository_name,
        )
        if origin
        else (None, None)
    )
    here = context.code_location_origin.location_name if context.code_location_origin else None
    return run_place == (here, context.repository_name)


@dg.sensor(
    name="access_trail_runs",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Appends one access event for every run a person launched (UI, GraphQL, each "
    "run of a backfill); runs of schedules and sensors are the archive working and get none.",
)
def access_trail_runs(context: dg.SensorEvaluationContext, archive: ArchiveResource):
    """pipelines/governance/run_access.py: exactly one event per run not started by a schedule
    or sensor.

    Why a plain sensor over the run-start events and not a run-status sensor: a run-status
    sensor evaluates one function per run and fails the whole tick when one run's answer is a
    SkipReason and another's is not (a UI backfill next to a webhook run), so its cursor was
    never saved and every tick wrote the same events again. Here the tick reads the run starts
    after its cursor in order and answers once: nothing to record is one SkipReason; recorded
    runs are one run reaction each (the tick lists them, each run's log says so); a failed
    write is a reaction with the error, last, so the tick fails while the daemon still saves
    the cursor, which stops just before that run (retried next tick) and past every run
    recorded before it. A tick whose cursor is lost anyway (killed, timed out) is harmless:
    before writing, the events the trail received since the last tick are read, and a run
    found there is not written again (`recorded_run_ids`)."""
    cursor = AccessTrailCursor.load(context.cursor)
    instance = context.instance
    if cursor.after_event is None:
        # First tick: record the runs that start from now on, not the instance's history.
        newest = instance.fetch_run_status_changes(dg.DagsterEventType.RUN_START, limit=1).records
        start = newest[0].storage_id if newest else -1
        context.update_cursor(AccessTrailCursor(start, cursor.trail_key).dump())
        return dg.SkipReason("recording the runs people launch from now on")
    starts = instance.fetch_run_status_changes(
        dg.RunStatusChangeRecordsFilter(
            dg.DagsterEventType.RUN_START, after_storage_id=cursor.after_event
        ),
        limit=ACCESS_TRAIL_BATCH,
        ascending=True,
    ).records
    store = archive.store()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    if not starts:
        trail_key = _trail_head(context, store, cursor.trail_key, today)
        context.update_cursor(AccessTrailCursor(cursor.after_event, trail_key).dump())
        return dg.SkipReason("no run started since the last tick")
    run_ids = list({start.event_log_entry.run_id for start in starts})
    runs = {
        record.dagster_run.run_id: record.dagster_run
        for record in instance.get_run_records(filters=dg.RunsFilter(run_ids=run_ids))
    }
    to_record: dict[int, dg.DagsterRun] = {}
    for start in starts:
        run = runs.get(start.event_log_entry.run_id)
        if run is not None and _in_this_code_location(context, run) and _person_launched(run):
            to_record[start.storage_id] = run
    if not to_record:
        trail_key = _trail_head(context, store, cursor.trail_key, today)
        context.update_cursor(AccessTrailCursor(starts[-1].storage_id, trail_key).dump())
        return dg.SkipReason(
            f"{len(starts)} run(s) started, by schedules or sensors (or in another code "
            "location): nothing to record"
        )
    archive_settings = archive.settings()
    oldest = min(start.timestamp for start in starts if start.storage_id in to_record)
    since = (datetime.fromtimestamp(oldest, UTC) - CLOCK_SKEW).strftime("%Y-%m-%d")
    after, trail_key = cursor.after_event, cursor.trail_key
    recorded: set[str] | None = None
    reactions: list[DagsterRunReaction] = []
    for start in starts:
        run = to_record.get(start.storage_id)
        if run is not None:
            try:
                if recorded is None:  # read once, and only when there is a run to record
                    recorded, trail_key = recorded_run_ids(store, trail_key, since, today)
                stored = None
                if run.run_id not in recorded:
                    stored = record_run_access(
                        store,
                        archive_settings,
                        run.job_name,
                        run.run_id,
                        run.tags,
                        _selected_assets(run),
                    )
            except Exception:  # noqa: BLE001 - the tick fails with it; the run is retried
                error = serializable_error_info_from_exc_info(sys.exc_info())
                context.log.error("run %s not recorded: %s", run.run_id, error.message.strip())
                reactions.append(_reaction(run, error))
                break
            if stored is None:
                context.log.info("run %s: its event is in the access trail already", run.run_id)
            else:
                trail_key = max(stored.key, trail_key or stored.key)
                context.log.info("run %s recorded as %s", run.run_id, stored.key)
            recorded.add(run.run_id)
            reactions.append(_reaction(run))
        after = start.storage_id
    context.update_cursor(AccessTrailCursor(after, trail_key).dump())
    return reactions


def _trail_head(
    context: dg.SensorEvaluationContext, store, trail_key: str | None, today: str
) -> str | None:
    """Where the trail ends now, on a tick that records nothing (run_access.trail_head); an
    archive that cannot be listed just now keeps the mark: nothing was to be written."""
    try:
        return trail_head(store, trail_key, today)
    except Exception as error:  # noqa: BLE001 - a later tick moves the mark
        context.log.warning("could not list the access trail: %s", str(error)[:200])
        return trail_key


def _person_launched(run: dg.DagsterRun) -> bool:
    """The project's rule (run_access.run_access_event): no schedule or sensor started it."""
    return run_access_event(run.job_name, run.run_id, run.tags, None) is not None


def _selected_assets(run: dg.DagsterRun) -> list[str]:
    return [key.to_user_string() for key in run.asset_selection or ()]


def _reaction(run: dg.DagsterRun, error: SerializableErrorInfo | None = None) -> DagsterRunReaction:
    """What the tick did for one run: the daemon writes a line into a recorded run's log and
    fails the tick with `error` (saving the cursor) when the event could not be written."""
    return DagsterRunReaction(run, error=error, run_status=dg.DagsterRunStatus.STARTED)
