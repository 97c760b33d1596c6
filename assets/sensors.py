"""Source discovery: the API has no endpoint that lists channels, so sources are found.

Two ways in: RC_SOURCE_IDS (configured) and a sample of recent contents across every channel the
agent can read (a list call without a source filter). New, valid ids become partitions; invalid
ones are logged and never reach a key.
"""

import os

import dagster as dg

from assets.jobs import SOURCE_TAG, archive_job
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.governance.run_access import record_run_access
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


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.STARTED,
    name="access_trail_runs",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Appends an access event for every run a person launched (UI, GraphQL, CLI).",
)
def access_trail_runs(context: dg.RunStatusSensorContext, archive: ArchiveResource):
    """pipelines/governance/run_access.py: one event per run not started by a schedule or
    sensor, written once (the sensor's cursor moves past each run)."""
    run = context.dagster_run
    assets = [key.to_user_string() for key in run.asset_selection or ()]
    recorded = record_run_access(
        archive.store(), dict(os.environ), run.job_name, run.run_id, run.tags, assets
    )
    if not recorded:
        return dg.SkipReason(f"run {run.run_id} was started by a schedule or sensor")
    return None
