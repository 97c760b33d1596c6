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

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pipelines.archive.store import LocalStore, ObjectStore
from pipelines.governance.access_trail import AccessTrail, access_log, check_real_archive
from pipelines.governance.chained_log import StoredRecord
from pipelines.settings import Settings

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
    settings: Settings,
    job_name: str,
    run_id: str,
    tags: Mapping[str, str],
    assets: Iterable[str] | None,
) -> StoredRecord | None:
    """Append the run's event to the archive's access trail (None: a scheduled run), witnessed
    as `settings` says. The person Dagster names (`dagster/user`) is the event's user; else
    the daemon's (`settings.user`, else the operating-system user). A local
    archive whose folders are symbolic links is refused (SymlinkedArchiveError, which fails
    the sensor's tick where it shows): the run's event would land in a trail beside the data
    it read, as for the audit commands (access_trail.check_real_archive)."""
    event = run_access_event(job_name, run_id, tags, assets)
    if event is None:
        return None
    if isinstance(store, LocalStore):
        check_real_archive(store.root)
    if tags.get(USER_TAG):
        settings = replace(settings, user=tags[USER_TAG])
    return AccessTrail(store, settings).append(event)


def recorded_run_ids(
    store: ObjectStore, after_key: str | None, since_day: str, today: str
) -> tuple[set[str], str | None]:
    """The run ids of the `dagster-run` events the trail holds after `after_key` and on days
    from `since_day` to `today`, and the newest key read (else `after_key`).

    What makes the sensor's write idempotent by run id: before appending a run's event it
    looks here, so a tick retried after its events were stored (its cursor lost with a
    failed or killed tick) finds them instead of writing them again. The cost is the events
    written since the sensor's last tick and since the day the oldest run to record started
    (one LIST per day folder, one GET per event), never the whole trail. Days after `today`
    are not read: no writer can have stored an event there (a record planted in a future
    folder cannot mark a run as recorded)."""
    log = access_log(store)
    after_day = after_key[len(log.prefix) :].split("/")[0] if after_key else None
    found: set[str] = set()
    newest = after_key
    for day in log.days():
        if day < since_day or day > today or (after_day is not None and day < after_day):
            continue
        for key in log.day_keys(day, after_key if day == after_day else None):
            newest = max(key, newest or key)
            try:
                body = json.loads(store.get(key))
            except ValueError:
                continue  # not an event (access verify reports it)
            if not isinstance(body, dict) or body.get("command") != "dagster-run":
                continue
            arguments = body.get("arguments")
            run_id = arguments.get("run_id") if isinstance(arguments, dict) else None
            if isinstance(run_id, str):
                found.add(run_id)
    return found, newest


def trail_head(store: ObjectStore, after_key: str | None, today: str) -> str | None:
    """The newest key in today's folder of the trail, after `after_key` (else `after_key`):
    one LIST of the keys written since, no GET. The sensor moves its mark here on the ticks
    that record nothing, so the look for recorded runs (`recorded_run_ids`) reads the events
    of the last tick or so, not every `sql` event since the last run a person launched. (Only
    the sensor writes `dagster-run` events, and only on the ticks that record; a tick that
    records none cannot skip one of its own.)"""
    log = access_log(store)
    folder = f"{log.prefix}{today}/"
    keys = log.day_keys(today, after_key if after_key and after_key.startswith(folder) else None)
    return keys[-1] if keys else after_key
