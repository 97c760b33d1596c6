"""The Dagster layer: assets and checks materialised in-process against sandbox + archive."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest

from assets.runner import run_sources
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import open_store
from pipelines.settings import Settings
from tests.sync.support import archived

CONTENTS_PATH = "/cx/social-messaging/v1/contents"


@pytest.fixture
def pipeline_env(sandbox_factory, tmp_path, monkeypatch):
    sb = sandbox_factory(contents=900, sources=2)
    for key, value in sb.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ARCHIVE_URI", str(tmp_path / "archive"))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return sb, tmp_path


def test_run_archives_every_source_and_all_checks_pass(pipeline_env):
    sb, tmp_path = pipeline_env
    summaries = run_sources(sb.world.source_ids, reconcile_mode="full")
    assert [s.success for s in summaries] == [True, True]
    ledger = Ledger(open_store(str(tmp_path / "archive"), Settings()))
    views = {"audit_catalog_current": True, "iceberg_tables_match_views": True}
    assert summaries[-1].metadata["audit_views_checks"] == views
    for summary in summaries:
        assert summary.checks == {
            "agents_schema_valid": True,
            "attachments_complete": True,
            "contents_schema_valid": True,
            "identities_schema_valid": True,
            "contents_reconciled": True,
            "ledger_intact": True,
        }
        ids = archived(ledger, summary.source_id).ids
        assert ids == sb.world.content_ids(summary.source_id)
        assert summary.metadata["contents"]["new_records"] == len(ids)
        assert summary.metadata["identities"]["new_versions"] > 0
    # Agents are shared: the first source's run archives them, the second finds them known.
    agent_versions = [s.metadata["agents"]["new_versions"] for s in summaries]
    assert agent_versions[0] > 0 and agent_versions[1] == 0
    assert (tmp_path / "audit.duckdb").exists()


def test_fresh_dagster_instance_resumes_from_the_archive_ledger(pipeline_env):
    sb, _ = pipeline_env
    first = run_sources(sb.world.source_ids, instance=dg.DagsterInstance.ephemeral())
    assert all(s.success for s in first)
    # Settle the sweep mark once, then prove a brand-new instance does not re-read history.
    run_sources(sb.world.source_ids, instance=dg.DagsterInstance.ephemeral())
    before = sb.stats.requests(path_prefix=CONTENTS_PATH)
    again = run_sources(sb.world.source_ids, instance=dg.DagsterInstance.ephemeral())
    contents_requests = sb.stats.requests(path_prefix=CONTENTS_PATH) - before
    assert all(s.success for s in again)
    assert all(s.metadata["contents"]["new_records"] == 0 for s in again)
    # 2 per source for the resume + sweep, plus the sampled reconciliation (2 pages per source).
    assert contents_requests <= len(sb.world.source_ids) * 4


def test_auth_failure_fails_fast_with_the_ringcentral_code(pipeline_env, monkeypatch):
    sb, _ = pipeline_env
    monkeypatch.setenv("RC_APP_CLIENT_SECRET", "not-the-secret")
    [summary] = run_sources(sb.world.source_ids[:1])
    assert not summary.success
    assert "OAU-" in (summary.error or "")
    assert "not-the-secret" not in (summary.error or "")


def test_invalid_source_id_is_refused_before_any_key_is_built(pipeline_env):
    with pytest.raises(ValueError, match="24 hexadecimal"):
        run_sources(["../../etc"])


def test_definitions_load_and_asset_keys_do_not_change_by_accident():
    from assets.definitions import defs

    dg.Definitions.validate_loadable(defs)  # unique op and job names, resolvable selections
    keys = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
    assert keys == [
        "agents",
        "archive_deep_verify",
        "attachments",
        "audit_catalog",
        "contents",
        "contents_compaction",
        "iceberg_tables",
        "identities",
        "supervision_report",
    ]
    checks = sorted(k.name for k in defs.resolve_asset_graph().asset_check_keys)
    assert checks == [
        "agents_schema_valid",
        "attachments_complete",
        "audit_catalog_current",
        "contents_reconciled",
        "contents_schema_valid",
        "iceberg_tables_match_views",
        "identities_schema_valid",
        "ledger_intact",
    ]


def test_dagster_definitions_validate_passes():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
