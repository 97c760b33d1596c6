"""Jobs launched by a person (the Dagster UI, GraphQL, `dagster job launch`) in the access trail.

An archive run reads the API and writes the archive; a person launching one (a backfill of a
year, a re-materialised catalog, a supervision report) is still someone acting on the archive,
so each such run gets one access event like `sql` or `export` get: command `dagster-run`, the
job, the run id, the partition, the assets selected, the backfill, and who launched it when
Dagster knows (`dagster/user`, set by Dagster+ and by the GraphQL client's tags). Runs started
by the project's own schedules and sensors are the archive working, not a person looking, and
are not logged (their commits are in the ledger).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipelines import settings
from pipelines.archive.store import ObjectStore
from pipelines.governance.access_trail import AccessTrail

AUTOMATION_TAGS = ("dagster/schedule_name", "dagster/sensor_name")
USER_TAG = "dagster/user"


def run_access_event(
    job_name: str, run_id: str, tags: Mapping[str, str], assets: Iterable[str] | None
) -> dict[str, Any] | None:
    """The access event of a run, or None for a run of a schedule or sensor."""
    if any(tag in tags for tag in AUTOMATION_TAGS):
        return None
    launched = {
        "job": job_name,
        "run_id": run_id,
        "partition": tags.get("dagster/partition"),
        "backfill": tags.get("dagster/backfill"),
        "assets": sorted(assets) if assets else None,
        "launched_by": tags.get(USER_TAG),
    }
    return {
        "command": "dagster-run",
        "status": "ok",
        "error": None,
        "rows": None,
        "arguments": launched,
        "query": None,
        "query_sha256": None,
        "parameters": None,
        "query_name": job_name,
    }


def record_run_access(
    store: ObjectStore,
    env: Mapping[str, str],
    job_name: str,
    run_id: str,
    tags: Mapping[str, str],
    assets: Iterable[str] | None,
) -> bool:
    """Append the run's event to the archive's access trail (False: a scheduled run). The
    person Dagster names (`dagster/user`) is the event's user; else the daemon's user."""
    event = run_access_event(job_name, run_id, tags, assets)
    if event is None:
        return False
    who = dict(env)
    if tags.get(USER_TAG):
        who[settings.RC_ARCHIVE_USER] = tags[USER_TAG]
    AccessTrail(store, who).append(event)
    return True
