"""A backfill launched through Dagster's GraphQL API, as the UI does, on a running webserver and
daemon (Dagster's default SQLite storage), archives 3 sources end to end."""

from __future__ import annotations

import pytest

from tests.e2e.dagster_services import (
    BIN,
    backfill_sources,
    free_port,
    migrate_instance,
    services,
    wait_for_location,
)
from tests.e2e.helpers import archived_rows, cli_env

pytestmark = pytest.mark.slow


def test_ui_style_backfill_archives_three_sources(sandbox_factory, tmp_path):
    # A few attachment files of 8 KiB per source: what is proven is the path a UI backfill
    # takes (GraphQL, daemon, one run per source), not how much each run archives.
    sb = sandbox_factory(
        contents=300,
        sources=3,
        light_limit=100000,
        window_seconds=1.0,
        large_attachment_every=1,
        large_attachment_bytes=8192,
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = cli_env(sb.env, tmp_path / "archive", tmp_path / "audit.duckdb")
    env["DAGSTER_HOME"] = str(home)
    migrate_instance(env)
    port = free_port()
    webserver = [f"{BIN}/dagster-webserver", "-h", "127.0.0.1", "-p", str(port)]
    daemon = [f"{BIN}/dagster-daemon", "run"]
    with services(
        [[*webserver, "-w", "workspace.yaml"], [*daemon, "-w", "workspace.yaml"]],
        env,
        tmp_path / "logs",
    ):
        url = wait_for_location(port)
        sources = sb.world.source_ids
        runs = backfill_sources(url, sources)
    assert [r["status"] for r in runs] == ["SUCCESS"] * 3
    rows = archived_rows(tmp_path / "archive", sources)
    for key in sources:
        assert {i for i, _ in rows[key]} == sb.world.content_ids(key)
