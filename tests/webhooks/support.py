"""Webhook tests: the real sandbox delivers over HTTP to the real receiver on 127.0.0.1, which
writes into a real local archive."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from assets.resources import ArchiveResource
from assets.sensors import webhook_events
from pipelines.archive.store import open_store
from pipelines.ringcentral import ClientSettings, RingCentralClient
from pipelines.settings import Settings
from pipelines.webhooks.events import EVENTS_PREFIX
from pipelines.webhooks.receiver import ReceiverThread

TOKEN = "verification-" + "x" * 20


@pytest.fixture
def archive_uri(tmp_path) -> str:
    return str(tmp_path / "archive")


@pytest.fixture
def store(archive_uri):
    return open_store(archive_uri, Settings())


@pytest.fixture
def receiver(store):
    with ReceiverThread(store, TOKEN) as running:
        yield running


def client_for(sb) -> RingCentralClient:
    return RingCentralClient(ClientSettings.from_env(sb.env))


def event_keys(store) -> list[str]:
    return sorted(k for k in store.list(EVENTS_PREFIX))


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def evaluate_sensor(instance, archive_uri: str, cursor: str | None = None):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"archive": ArchiveResource(archive_uri=archive_uri)},
    )
    return webhook_events(context)


def add_run(instance, source_id: str, status: DagsterRunStatus) -> None:
    """A run of the archive job for a source, as the daemon would have launched it."""
    instance.add_run(
        DagsterRun(
            job_name="archive_sources",
            run_id=str(uuid.uuid4()),
            tags={"dagster/partition": source_id, "rc-archive/source": source_id},
            status=status,
        )
    )
