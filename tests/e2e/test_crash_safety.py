"""Invariant 4: kill -9 at any moment, run again: the archive equals an uninterrupted run's.

The child process is the real `rc-archive run`; SIGKILL gives it no chance to clean up. Kill
moments are spread over the whole initial load (seeded, so a failure is reproducible).
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from pipelines.archive.store import open_store
from pipelines.archive.verify import verify
from tests.e2e.helpers import archived_rows, cli_env, run_to_completion, start_run

pytestmark = pytest.mark.slow

KILL_POINTS = 6
BATCH = "--batch-records=400"


def test_kill_9_during_initial_load_then_rerun_equals_uninterrupted(sandbox_factory, tmp_path):
    sb = sandbox_factory(contents=5000, sources=2, light_limit=100000, window_seconds=1.0)
    sources = sb.world.source_ids

    reference = tmp_path / "reference"
    started = time.monotonic()
    run_to_completion(cli_env(sb.env, reference, tmp_path / "ref.duckdb"), BATCH)
    full_duration = time.monotonic() - started
    expected = archived_rows(reference, sources)
    for source_id in sources:
        assert {i for i, _ in expected[source_id]} == sb.world.content_ids(source_id)

    rng = random.Random(4)
    # Child start-up (imports) takes ~2 s; kill anywhere from then to near the end.
    moments = sorted(rng.uniform(1.5, max(2.0, full_duration * 0.95)) for _ in range(KILL_POINTS))
    killed_mid_run = 0
    for number, moment in enumerate(moments):
        archive = tmp_path / f"trial-{number}"
        env = cli_env(sb.env, archive, tmp_path / f"trial-{number}.duckdb")
        child = start_run(env, BATCH)
        time.sleep(moment)
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            killed_mid_run += 1
        child.wait()
        run_to_completion(env, BATCH)

        actual = archived_rows(archive, sources)
        for source_id in sources:
            # Same versions, and each exactly once (no duplicate rows from the crashed attempt).
            assert sorted(actual[source_id]) == sorted(expected[source_id]), (number, moment)
        report = verify(open_store(str(archive), {}))
        assert report.ok, report.render()
    assert killed_mid_run >= 5
