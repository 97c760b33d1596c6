"""The archive schedule: every 15 minutes (ARCHIVE_SCHEDULE_CRON), a run per *changed* source.

One account-wide `-lastModifiedTime` request per tick (pipelines/sync/probe.py) tells which
sources changed since their last run, so an idle account of 100 sources costs one request a
cycle instead of a run (and its requests) per source. Once a UTC day every known source is run
whatever the probe says: that run brings the daily reconcile sample (assets/checks.py), and it
bounds to a day anything a probe cannot see (a run that failed after its source was selected).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from assets.jobs import SOURCE_TAG, archive_job
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.archive.ledger import Ledger
from pipelines.ringcentral import RingCentralClient
from pipelines.settings import Settings
from pipelines.sync.probe import select_changed_sources

# Tags of runs the schedule launches: the probe's account mark and the UTC day, read back by
# the next tick (the Dagster run storage is the schedule's memory; schedules have no cursor).
SCHEDULED_TAG = "rc-archive/scheduled"
PROBE_THROUGH_TAG = "rc-archive/probe-through"
PROBE_DAY_TAG = "rc-archive/probe-day"


@dataclass
class TickPlan:
    """What one tick launches, and why (shown as the skip reason or logged)."""

    source_keys: list[str] = field(default_factory=list)
    through: str | None = None
    full_cycle: bool = False
    reason: str = ""


def plan_tick(
    client: RingCentralClient,
    ledger: Ledger,
    known_keys: list[str],
    *,
    day: str,
    last_day: str | None,
    previous_through: str | None,
) -> TickPlan:
    """Which sources to run this tick.

    Reads: one content-list request without a source filter, and each known source's contents
    ledger head (see `select_changed_sources`). The first tick of a UTC day (`day` differs from
    `last_day`, the day of the last scheduled run) runs every source; it still probes, so its
    mark is the next tick's `previous_through`.
    """
    probe = select_changed_sources(client, ledger, known_keys, previous_through=previous_through)
    if last_day != day:
        return TickPlan(list(known_keys), probe.through, True, "daily run of every source")
    selected = set(probe.to_run)
    keys = [key for key in known_keys if key in selected]
    reason = (
        f"{len(probe.changed)} changed, {len(probe.undecided)} undecided, "
        f"{len(probe.unchanged)} unchanged of {len(known_keys)} sources"
    )
    return TickPlan(keys, probe.through, False, reason)


def scheduled_run_requests(
    source_keys: list[str], tick_id: str, tags: dict[str, str] | None = None
) -> list[dg.RunRequest]:
    """One run per source, keyed by tick so a re-evaluated tick never launches twice."""
    return [
        dg.RunRequest(
            run_key=f"{tick_id}:{key}",
            partition_key=key,
            tags={**(tags or {}), SOURCE_TAG: key},
        )
        for key in source_keys
    ]


def last_scheduled_tags(instance: dg.DagsterInstance) -> dict[str, str]:
    """Tags of the newest run this schedule launched ({} when none): one run-storage query."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={SCHEDULED_TAG: "probe"}), limit=1
    )
    return dict(records[0].dagster_run.tags) if records else {}


@dg.schedule(
    job=archive_job,
    cron_schedule=Settings.from_env(os.environ).archive_schedule_cron,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Archive every known source that changed (one account-wide probe request per "
    "tick), and every known source once a UTC day.",
)
def archive_schedule(
    context: dg.ScheduleEvaluationContext,
    ringcentral: RingCentralResource,
    archive: ArchiveResource,
):
    keys = list(context.instance.get_dynamic_partitions(sources_partitions.name))
    if not keys:
        return dg.SkipReason("no sources yet: set RC_SOURCE_IDS or wait for source discovery")
    when = (context.scheduled_execution_time or datetime.now(UTC)).astimezone(UTC)
    last = last_scheduled_tags(context.instance)
    with ringcentral.client() as client:
        plan = plan_tick(
            client,
            archive.ledger(),
            keys,
            day=when.date().isoformat(),
            last_day=last.get(PROBE_DAY_TAG),
            previous_through=last.get(PROBE_THROUGH_TAG),
        )
    if not plan.source_keys:
        return dg.SkipReason(f"nothing changed: {plan.reason}")
    tags = {SCHEDULED_TAG: "probe", PROBE_DAY_TAG: when.date().isoformat()}
    if plan.through:
        tags[PROBE_THROUGH_TAG] = plan.through
    return scheduled_run_requests(plan.source_keys, when.isoformat(), tags)
