"""The schedule probes the account once a tick and runs only the sources that changed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun

from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, RingCentralResource
from assets.schedules import archive_schedule
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.settings import Settings
from pipelines.sync.contents import sync_contents
from tests.sync.support import client_for

CONTENTS_PATH = "/cx/social-messaging/v1/contents"


def _resources(sb, archive_uri: str) -> dict:
    env = sb.env
    return {
        "ringcentral": RingCentralResource(
            server_url=env["RC_SERVER_URL"],
            client_id=env["RC_APP_CLIENT_ID"],
            client_secret=env["RC_APP_CLIENT_SECRET"],
            user_jwt=env["RC_USER_JWT"],
        ),
        "archive": ArchiveResource(archive_uri=archive_uri),
    }


def _tick(instance, resources, when):
    return archive_schedule(
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, resources=resources
        )
    )


def _launched(instance, requests) -> None:
    """What the daemon does with the requests, as far as the next tick can see: runs with tags."""
    for request in requests:
        instance.add_run(
            DagsterRun(job_name="archive_sources", run_id=str(uuid.uuid4()), tags=request.tags)
        )


def test_idle_ticks_cost_one_request_and_only_changed_sources_run(sandbox_factory, tmp_path):
    sb = sandbox_factory(contents=1500, sources=5)
    sources = sb.world.source_ids
    archive_uri = str(tmp_path / "archive")
    ledger = Ledger(open_store(archive_uri, Settings()))
    with client_for(sb) as client:
        for source_id in sources:
            sync_contents(client, ledger, source_id, run_id="initial")
    resources = _resources(sb, archive_uri)
    start = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)

    def measured(instance, when):
        before = sb.stats.requests(path_prefix=CONTENTS_PATH)
        result = _tick(instance, resources, when)
        return result, sb.stats.requests(path_prefix=CONTENTS_PATH) - before

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(sources_partitions.name, sources)
        # The first tick of the day runs every source (daily cycle: reconcile, catch-all).
        daily, requests = measured(instance, start)
        assert requests == 1 and [r.partition_key for r in daily] == sources
        _launched(instance, daily)

        for number in range(1, 4):
            idle, requests = measured(instance, start + timedelta(minutes=15 * number))
            assert isinstance(idle, dg.SkipReason) and requests == 1

        edited = sorted(sb.world.content_ids(sources[2]))[7]
        sb.world.edit_content(edited, body="edited between ticks")
        changed, requests = measured(instance, start + timedelta(hours=1, minutes=15))
        assert requests == 1
        assert [r.partition_key for r in changed] == [sources[2]]
        _launched(instance, changed)
        with client_for(sb) as client:
            report = sync_contents(client, ledger, sources[2], run_id="after-edit")
        assert report.new_versions == 1

        settled, requests = measured(instance, start + timedelta(hours=1, minutes=30))
        assert isinstance(settled, dg.SkipReason) and requests == 1

        # Next UTC day: every source again, still one request.
        next_day, requests = measured(instance, start + timedelta(days=1))
        assert requests == 1 and [r.partition_key for r in next_day] == sources
