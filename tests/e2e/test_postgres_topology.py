"""The production topology of dagster.example.yaml, run for real: PostgreSQL storage, the
queued run coordinator (one run per source, the `ringcentral_api` pool), and Dagster's services
as separate processes (a gRPC code server, the webserver, the daemon). A backfill of 20 sources
launched through GraphQL archives every source in concurrent runs that share the RingCentral
rate limit, at a Light limit scaled to 50 requests per 5 seconds, without one 429."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

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
SOURCES = 20


def test_backfill_of_20_sources_on_postgres_with_separate_services(
    postgres_server, sandbox_factory, tmp_path
):
    # Light: 50 requests per 60 s, scaled by 1/12; the 429 penalty scaled alike.
    sb = sandbox_factory(
        contents=20 * SOURCES,
        sources=SOURCES,
        light_limit=50,
        window_seconds=5.0,
        penalty_seconds=5.0,
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
    # Runs overlapped (the coordinator ran several at once), and the shared limit held.
    spans = sorted((r["startTime"], r["endTime"]) for r in runs)
    overlapping = sum(
        1 for (_, end), (start, _) in zip(spans, spans[1:], strict=False) if start < end
    )
    assert overlapping >= 1, [datetime.fromtimestamp(s).isoformat() for s, _ in spans]
    assert sb.stats.count_429 == 0, f"{sb.stats.count_429} x 429"
