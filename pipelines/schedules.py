"""The archive schedule: every 15 minutes (ARCHIVE_SCHEDULE_CRON), one run per known source."""

import os

import dagster as dg

from pipelines.jobs import SOURCE_TAG, archive_job
from pipelines.partitions import sources_partitions

DEFAULT_CRON = "*/15 * * * *"


def scheduled_run_requests(source_keys: list[str], tick_id: str) -> list[dg.RunRequest]:
    """One run per source, keyed by tick so a re-evaluated tick never launches twice."""
    return [
        dg.RunRequest(
            run_key=f"{tick_id}:{key}",
            partition_key=key,
            tags={SOURCE_TAG: key},
        )
        for key in source_keys
    ]


@dg.schedule(
    job=archive_job,
    cron_schedule=os.environ.get("ARCHIVE_SCHEDULE_CRON", DEFAULT_CRON),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Archive every known source (dynamic partitions `sources`) every 15 minutes.",
)
def archive_schedule(context: dg.ScheduleEvaluationContext):
    keys = list(context.instance.get_dynamic_partitions(sources_partitions.name))
    if not keys:
        return dg.SkipReason("no sources yet: set RC_SOURCE_IDS or wait for source discovery")
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
    return scheduled_run_requests(keys, tick)
