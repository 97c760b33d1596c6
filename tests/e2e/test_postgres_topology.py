"""The production topology of dagster.example.yaml, run for real: PostgreSQL storage, the
queued run coordinator (one run per source, the `ringcentral_api` pool), and Dagster's services
as separate processes (a gRPC code server, the webserver, the daemon). A backfill of 10 sources
(more than the coordinator runs at once) launched through GraphQL archives every source in
concurrent runs that share the RingCentral rate limit, at a Light limit scaled to 50 requests
per 5 seconds, without one 429.

Concurrency is read from what Dagster recorded, not from how fast anything was: the run status
events of every run in the instance's event log (PostgreSQL) say when the coordinator launched
each run and when it started and ended, so "two runs were in STARTED at once" and "never more
runs than the coordinator's limit" are facts of the record, whatever the machine's load."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
import pytest

from pipelines.archive.store import LocalStore
from tests.e2e.dagster_services import (
    BIN,
    LOCATION,
    backfill_sources,
    free_port,
    migrate_instance,
    services,
    wait_for_code_server,
    wait_for_location,
)
from tests.e2e.helpers import archived_rows, cli_env

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
# More sources than MAX_CONCURRENT_RUNS, so some runs must wait for the coordinator; each
# source is a run process of its own, which is what the test's time goes to (20 took ~4 min).
SOURCES = 10


# What the coordinator may run at once (dagster.example.yaml, concurrency.runs).
MAX_CONCURRENT_RUNS = 8
STATUS_EVENTS = {
    dg.DagsterEventType.RUN_STARTING,
    dg.DagsterEventType.RUN_START,
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
}
ENDS = (
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
)


def run_timelines(home: Path) -> dict[str, dict]:
    """Every run of the instance: its job, partition, and when the event log recorded each of
    its status changes (event timestamps written by Dagster's processes)."""
    timelines = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for record in instance.get_run_records():
            run = record.dagster_run
            events = instance.get_records_for_run(run.run_id, of_type=STATUS_EVENTS).records
            timelines[run.run_id] = {
                "job": run.job_name,
                "partition": run.tags.get("dagster/partition"),
                **{e.event_log_entry.dagster_event_type: e.timestamp for e in events},
            }
    return timelines


def most_at_once(spans: Iterable[tuple[float, float]]) -> int:
    """The most spans [start, end] holding one moment (an end before a start at a tie)."""
    moments = sorted(
        [(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans],
        key=lambda moment: (moment[0], moment[1]),
    )
    most = current = 0
    for _, change in moments:
        current += change
        most = max(most, current)
    return most


def spans(timelines: dict[str, dict], since: dg.DagsterEventType) -> dict[str, tuple]:
    """Per run that recorded `since`: from then to its end event, or without end when it
    recorded none (a run still going when the services stopped)."""
    found = {}
    for run_id, timeline in timelines.items():
        if since in timeline:
            end = next((timeline[e] for e in ENDS if e in timeline), float("inf"))
            found[run_id] = (timeline[since], end)
    return found


def recorded_runs(archive: Path) -> list[str]:
    """The run ids of the `dagster-run` events in the archive's access trail."""
    store = LocalStore(archive)
    events = [json.loads(store.get(key)) for key in store.list("_access/")]
    return [e["arguments"]["run_id"] for e in events if e.get("command") == "dagster-run"]


def test_backfill_of_10_sources_on_postgres_with_separate_services(
    postgres_server, sandbox_factory, tmp_path, monkeypatch
):
    # Light: 50 requests per 60 s, scaled by 1/12; the 429 penalty scaled alike.
    sb = sandbox_factory(
        contents=20 * SOURCES,
        sources=SOURCES,
        light_limit=50,
        window_seconds=5.0,
        penalty_seconds=5.0,
        large_attachment_every=1,
        large_attachment_bytes=8192,
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        (REPO_ROOT / "dagster.example.yaml").read_text() + "\ntelemetry:\n  enabled: false\n"
    )
    grpc_port, web_port = free_port(), free_port()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
        f"      port: {grpc_port}\n      location_name: {LOCATION}\n"
    )
    env = cli_env(sb.env, tmp_path / "archive", tmp_path / "audit.duckdb")
    env |= postgres_server.env | {"DAGSTER_HOME": str(home)}
    # Only the backfill's runs: a quarter-hour tick of the archive schedule would add a run of
    # every source in the middle of the measurement.
    env["ARCHIVE_SCHEDULE_CRON"] = "0 0 1 1 *"
    migrate_instance(env)
    code_server = [
        f"{BIN}/dagster",
        "code-server",
        "start",
        "-h",
        "127.0.0.1",
        "-p",
        str(grpc_port),
        "-m",
        LOCATION,
        "--location-name",
        LOCATION,
        "-d",
        str(REPO_ROOT),
    ]
    webserver = [
        f"{BIN}/dagster-webserver",
        "-h",
        "127.0.0.1",
        "-p",
        str(web_port),
        "-w",
        str(workspace),
    ]
    daemon = [f"{BIN}/dagster-daemon", "run", "-w", str(workspace)]
    with services([code_server], env, tmp_path / "logs" / "code"):
        wait_for_code_server(grpc_port, env)
        with services([webserver, daemon], env, tmp_path / "logs"):
            url = wait_for_location(web_port)
            sources = sb.world.source_ids
            runs = backfill_sources(url, sources, timeout=600)

    assert [r["status"] for r in runs] == ["SUCCESS"] * SOURCES, runs
    rows = archived_rows(tmp_path / "archive", sources)
    for key in sources:
        assert {i for i, _ in rows[key]} == sb.world.content_ids(key), key
    assert sb.stats.count_429 == 0, f"{sb.stats.count_429} x 429"

    # What the coordinator did, from the instance's event log (PostgreSQL is still up).
    for name, value in postgres_server.env.items():
        monkeypatch.setenv(name, value)
    timelines = run_timelines(home)
    backfill = {r["runId"] for r in runs}
    assert backfill <= set(timelines)
    started = spans(timelines, dg.DagsterEventType.RUN_START)
    # Launched: from the moment the coordinator took the run off the queue (RUN_STARTING, which
    # the daemon's run queue writes) to the run's end. Every run of the backfill was queued.
    launched = spans(timelines, dg.DagsterEventType.RUN_STARTING)
    assert backfill <= set(launched) and backfill <= set(started)
    first = min(start for start, _ in launched.values())
    shown = sorted(
        (
            round(start - first, 1),
            round(end - first, 1),
            timelines[run_id]["job"],
            timelines[run_id]["partition"],
        )
        for run_id, (start, end) in started.items()
    )
    # At some moment two runs were both STARTED (RUN_START recorded, no end recorded yet).
    assert most_at_once(started.values()) >= 2, shown
    # And never more runs in progress than the coordinator's limit.
    assert most_at_once(launched.values()) <= MAX_CONCURRENT_RUNS, shown
    # The access trail's sensor saw the backfill's runs next to the runs the views' automation
    # launched: at most one event per run, only for the runs a person launched.
    recorded = recorded_runs(tmp_path / "archive")
    assert len(recorded) == len(set(recorded)) and set(recorded) <= backfill, recorded
