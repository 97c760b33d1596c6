"""Ctrl-C and SIGTERM stop `rc-archive run` at a batch boundary (pipelines/interrupts.py).

The child is the real command in its own session; each moment is found from what it prints
(a `progress ...` line every 0.1 s) or from the files it writes (a commit's intent without its
manifest yet), never from a sleep. One archive per signal takes the five interruptions in turn
(the crawl, a commit, the attachment downloads, the checks, the catalog), each run resuming the
one before; each interrupted run must exit 130 within a generous bound, print one line, leave
an archive `verify` passes, and commit nothing because of the stop but the batch that was
committing. Then one more run completes, and every version and attachment is there once.

A run cancelled in Dagster (what the UI does: the run is marked CANCELING and its worker gets
SIGINT) ends CANCELED at a batch boundary, its step never retried.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.archive.store import LocalStore
from pipelines.archive.verify import verify
from schemas.ids import source_stream
from tests.e2e.helpers import cli_env, run_to_completion
from tests.e2e.interrupt_support import (
    ACCOUNT,
    ARGS,
    BATCH_RECORDS,
    MOMENT_BOUND_SECONDS,
    MOMENTS,
    check_complete_once,
    check_stopped_cleanly,
    fewer_attachments,
    interrupt,
    progress_fields,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_at_every_moment_then_resumed(sandbox_factory, tmp_path, signum):
    sb = sandbox_factory(**ACCOUNT, light_limit=100_000, medium_limit=100_000)
    fewer_attachments(sb)
    archive = tmp_path / "archive"
    env = cli_env(sb.env, archive, tmp_path / "audit.duckdb")

    for moment, reached in MOMENTS:
        stop = interrupt(env, archive, signum, moment, reached)
        check_stopped_cleanly(stop, archive, signum)

    run_to_completion(env, *ARGS)
    check_complete_once(sb, archive)


def test_a_signal_while_a_step_waits_to_be_retried_stops_at_once(sandbox_factory, tmp_path):
    """Nothing is half done while Dagster waits to retry a step (30 s and more): no boundary to
    wait for, the run ends at once."""
    sb = sandbox_factory(sources=1, contents=1500)
    sb.faults.set("contents", refuse_order_by="+creationTime")  # the crawl fails, and retries
    archive = tmp_path / "archive"
    env = cli_env(sb.env, archive, tmp_path / "audit.duckdb")

    def waiting(line: str, _archive: Path) -> bool:
        fields = progress_fields(line)
        return bool(fields and fields["step"] == "contents:waiting_to_retry")

    stop = interrupt(env, archive, signal.SIGINT, "retry wait", waiting)
    assert stop.code == 130, "\n".join(stop.output)
    said = [line for line in stop.lines_after_signal if not line.startswith("progress ")]
    assert said == ["rc-archive run: interrupted (SIGINT): nothing in progress, stopping now"]
    assert verify(LocalStore(archive)).ok


# What Dagster does when a run is terminated in the UI: the run is marked CANCELING, then the
# run worker, which executes the steps in its main thread, sends itself SIGINT.
CANCEL_FROM_DAGSTER = r"""
import json, os, sys, threading, time, uuid
import dagster as dg
import assets.code_location  # noqa: F401  (tunes the process, as the code server does)
from dagster._core.events import DagsterEventType
from dagster_shared.ipc import send_interrupt
from assets.checks import ARCHIVE_CHECKS
from assets.definitions import build_resources
from assets.jobs import SOURCE_ASSETS
from assets.partitions import sources_partitions

source_id, ledger = sys.argv[1], sys.argv[2]
instance = dg.DagsterInstance.ephemeral()
instance.add_dynamic_partitions(sources_partitions.name, [source_id])
run_id = str(uuid.uuid4())

def cancel_at_first_commit():
    while not any(name[0].isdigit() for name in os.listdir(ledger) if name.endswith(".json")):
        time.sleep(0.002)
    instance.report_run_canceling(instance.get_run_by_id(run_id))
    send_interrupt()

os.makedirs(ledger, exist_ok=True)
threading.Thread(target=cancel_at_first_commit, daemon=True).start()
job = dg.Definitions(
    jobs=[dg.define_asset_job("archive_sources")],
    assets=[*SOURCE_ASSETS, *ARCHIVE_CHECKS],
    resources=build_resources(),
).resolve_job_def("archive_sources")
result = job.execute_in_process(
    instance=instance, partition_key=source_id, run_id=run_id, raise_on_error=False,
    run_config={"ops": {"contents": {"config": {"batch_records": 1000}}}},
)
events = result.all_events
print(json.dumps({
    "status": instance.get_run_by_id(run_id).status.value,
    "started": [e.step_key for e in events if e.event_type == DagsterEventType.STEP_START],
    "retried": [e.step_key for e in events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY],
    "failures": [
        e.step_failure_data.user_failure_data.description
        for e in events
        if e.is_step_failure and e.step_failure_data.user_failure_data is not None
    ],
}))
"""


def test_a_run_cancelled_in_dagster_ends_canceled_at_a_boundary(sandbox_factory, tmp_path):
    sb = sandbox_factory(**ACCOUNT, light_limit=100_000, medium_limit=100_000)
    fewer_attachments(sb)
    (source_id,) = sb.world.source_ids
    archive = tmp_path / "archive"
    env = cli_env(sb.env, archive, tmp_path / "audit.duckdb")
    ledger = archive / "_ledger" / "contents" / source_stream(source_id)
    done = subprocess.run(
        [sys.executable, "-c", CANCEL_FROM_DAGSTER, source_id, str(ledger)],
        env=env,
        capture_output=True,
        text=True,
        timeout=MOMENT_BOUND_SECONDS,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "CANCELED", outcome
    assert outcome["retried"] == [], outcome
    assert outcome["started"] == ["contents"], outcome  # nothing after the stop
    assert len(outcome["failures"]) == 1 and "interrupted (SIGINT)" in outcome["failures"][0]
    report = verify(LocalStore(archive))
    assert report.ok and not report.of_kind("uncommitted"), report.summary()
    # Whole batches only (each a page of the crawl), the first one included.
    manifests = [json.loads(path.read_text()) for path in sorted(ledger.glob("[0-9]*.json"))]
    assert manifests, "the run was cancelled before its first commit"
    for manifest in manifests:
        rows = sum(f["rows"] for f in manifest["files"] if f["table"] == "contents")
        assert rows >= BATCH_RECORDS, manifest
