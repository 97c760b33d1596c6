"""Dagster runs (no CLI pre-checks) that fail on something outside the code: they fail once.

The assets' retry policy (30 s, 60 s, 120 s) must not multiply the client's own bounded retries
when the API is down, nor retry a write into a path that is not a directory. Real sandbox,
real local store, and a closed localhost port for the API that is down (nothing mocked).
"""

from __future__ import annotations

import socket
import time

import dagster as dg
import pytest

from assets.runner import CHECK_NAMES, SourceRunSummary, run_sources
from cli.run_command import run_table
from pipelines.archive.store import LocalStore, StoreWriteError


@pytest.fixture
def run_env(sandbox, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ARCHIVE_URI", str(tmp_path / "archive"))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    return monkeypatch


def test_api_down_fails_the_run_once_within_a_minute(run_env, sandbox):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run_env.setenv("RC_SERVER_URL", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    [summary] = run_sources([sandbox.world.source_ids[0]], instance=dg.DagsterInstance.ephemeral())
    elapsed = time.monotonic() - started
    assert elapsed < 60, elapsed
    assert not summary.success and summary.error_kind == "unreachable"
    assert "RC_SERVER_URL" in summary.error
    assert summary.checks == {} and summary.checks_status() == "not run"
    print(f"run_sources with the API down: {elapsed:.1f} s")


def test_archive_uri_a_file_fails_once_as_needs_person(run_env, sandbox, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    run_env.setenv("ARCHIVE_URI", str(a_file))
    started = time.monotonic()
    [summary] = run_sources([sandbox.world.source_ids[0]], instance=dg.DagsterInstance.ephemeral())
    elapsed = time.monotonic() - started
    assert elapsed < 30, elapsed  # a Dagster retry alone would wait 30 s
    assert summary.error_kind == "needs_person"
    assert "ENOTDIR" in summary.error and "ARCHIVE_URI" in summary.error


def test_a_path_through_a_file_is_a_write_error_a_retry_cannot_heal(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(StoreWriteError) as raised:
        LocalStore(a_file).put("contents/x.parquet", b"data", content_type="x")
    assert raised.value.needs_person and raised.value.code == "ENOTDIR"


def test_summary_shows_checks_that_never_ran_as_not_run():
    never_ran = SourceRunSummary("a" * 24, success=False, error="login failed")
    one_failed = SourceRunSummary("b" * 24, True, checks=dict.fromkeys(CHECK_NAMES, True))
    one_failed.checks[CHECK_NAMES[0]] = False
    partial = SourceRunSummary("c" * 24, False, checks={CHECK_NAMES[0]: True})
    table = run_table([never_ran, one_failed, partial])
    rows = {line.split(" ")[0]: line for line in table.splitlines()}
    assert rows["a" * 24].rstrip().endswith("not run")
    assert rows["b" * 24].rstrip().endswith("FAIL")
    assert rows["c" * 24].rstrip().endswith(f"pass, {len(CHECK_NAMES) - 1} not run")
