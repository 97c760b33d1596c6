"""Invariant 4: kill -9 at any moment, run again: the archive equals an uninterrupted run's.

The child process is the real `rc-archive run`; SIGKILL gives it no chance to clean up. Kill
moments are spread over the whole initial load (seeded, so a failure is reproducible).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pipelines.archive.store import open_store
from pipelines.archive.verify import verify
from pipelines.settings import Settings
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.e2e.helpers import archived_rows, cli_env, run_to_completion, start_run
from tests.fixtures.sandbox import SESSION_CONFIG

pytestmark = pytest.mark.slow

BATCH = "--batch-records=400"
# Where in the initial load each trial kills the run, as fractions of an uninterrupted run's
# duration after the child's ~1.5 s of start-up (seeded, so a failure is reproducible). Each
# trial is its own test so that the trials spread over the test workers.
# One moment drawn in each sixth of that span (stratified), so the trials cover the whole load.
_KILL_MOMENTS = random.Random(4)
KILL_FRACTIONS = [0.05 + 0.75 * (i + _KILL_MOMENTS.random()) / 6 for i in range(6)]
START_UP_SECONDS = 1.5
# One attachment in five is kept (~100 files): the downloads stay one of the moments a kill
# lands in, without the ~500 of the generated account, which made each run twice as long (a
# download costs its request and commit, whatever its size). Files of 8 KiB but every tenth
# of 1.5 MB, two chunks of the file host's 1 MiB, so a kill can also land inside a file.
KEEP_EVERY_NTH_ATTACHMENT = 5
LARGE_EVERY_NTH_KEPT = 10
LARGE_BYTES = 1_500_000


@dataclass(frozen=True)
class InitialLoad:
    sandbox: SandboxServer
    expected: dict[str, list[tuple[str, str]]]
    seconds: float


@pytest.fixture(scope="module")
def initial_load(tmp_path_factory) -> Iterator[InitialLoad]:
    """One account and its uninterrupted initial load (the reference every trial must equal),
    made once per test worker."""
    config = SandboxConfig(
        **{
            **SESSION_CONFIG,
            "contents": 5000,
            "sources": 2,
            "light_limit": 100000,
            "large_attachment_every": 1,
            "large_attachment_bytes": 8192,
        }
    )
    work = tmp_path_factory.mktemp("reference")
    with SandboxServer(config) as sb:
        _fewer_attachments(sb)
        started = time.monotonic()
        run_to_completion(cli_env(sb.env, work / "archive", work / "ref.duckdb"), BATCH)
        seconds = time.monotonic() - started
        expected = archived_rows(work / "archive", sb.world.source_ids)
        for source_id in sb.world.source_ids:
            assert {i for i, _ in expected[source_id]} == sb.world.content_ids(source_id)
        yield InitialLoad(sb, expected, seconds)


def _fewer_attachments(sb: SandboxServer) -> None:
    for source_id in sb.world.source_ids:
        kept = 0
        for number, attachment_id in enumerate(sb.world.attachment_ids(source_id)):
            if number % KEEP_EVERY_NTH_ATTACHMENT:
                sb.world.remove_attachment(attachment_id)
                continue
            if kept % LARGE_EVERY_NTH_KEPT == 0:
                sb.world.set_attachment(attachment_id, size=LARGE_BYTES)
            kept += 1


@pytest.mark.parametrize("fraction", KILL_FRACTIONS, ids=lambda f: f"kill-at-{f:.2f}")
def test_kill_9_during_initial_load_then_rerun_equals_uninterrupted(
    initial_load: InitialLoad, fraction: float, tmp_path
):
    sb, sources = initial_load.sandbox, initial_load.sandbox.world.source_ids
    moment = START_UP_SECONDS + fraction * max(0.5, initial_load.seconds - START_UP_SECONDS)
    # The reference's duration was measured on a machine whose load changes: when a trial's
    # run is faster and ends before its moment, the trial starts again on a fresh archive with
    # the moment earlier (its place in the load, not a wall-clock claim, is what is tested).
    for attempt in range(4):
        archive = tmp_path / f"archive-{attempt}"
        env = cli_env(sb.env, archive, tmp_path / f"audit-{attempt}.duckdb")
        child = start_run(env, BATCH)
        time.sleep(moment)
        killed_mid_run = child.poll() is None
        if killed_mid_run:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        if killed_mid_run:
            break
        moment = START_UP_SECONDS + (moment - START_UP_SECONDS) * 0.6
    assert killed_mid_run, f"every run ended before its moment (last {moment:.1f} s)"
    run_to_completion(env, BATCH)

    actual = archived_rows(archive, sources)
    for source_id in sources:
        # Same versions, and each exactly once (no duplicate rows from the crashed attempt).
        assert sorted(actual[source_id]) == sorted(initial_load.expected[source_id]), moment
    report = verify(open_store(str(archive), Settings()))
    assert report.ok, report.render()
