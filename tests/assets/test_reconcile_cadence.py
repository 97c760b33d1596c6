"""The reconcile sample runs daily or after changes, not on every idle run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.runner import run_sources
from pipelines.sync.reconcile import reconcile_due

CONTENTS_PATH = "/cx/social-messaging/v1/contents"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_due_after_changes_daily_or_when_unknown():
    day = timedelta(hours=24)
    assert reconcile_due(now=NOW, last_reconciled=None, committed_this_run=False).due
    assert reconcile_due(now=NOW, last_reconciled=NOW, committed_this_run=True).due
    assert reconcile_due(now=NOW, last_reconciled=NOW - day, committed_this_run=False).due
    skipped = reconcile_due(
        now=NOW, last_reconciled=NOW - timedelta(hours=2), committed_this_run=False
    )
    assert not skipped.due and skipped.next_due == NOW + timedelta(hours=22)
    assert skipped.reason == "skipped: next due at 2026-11-28T10:00:00.000Z"
    assert reconcile_due(
        now=NOW, last_reconciled=NOW, committed_this_run=False, every=timedelta(0)
    ).due


def test_an_idle_run_costs_one_request_and_the_check_passes_as_skipped(
    sandbox_factory, tmp_path, monkeypatch
):
    sb = sandbox_factory(contents=900, sources=2)
    for key, value in sb.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ARCHIVE_URI", str(tmp_path / "archive"))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.duckdb"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    instance = dg.DagsterInstance.ephemeral()
    first = run_sources(sb.world.source_ids, instance=instance)
    assert all(s.success and s.checks["contents_reconciled"] for s in first)

    before = sb.stats.requests(path_prefix=CONTENTS_PATH)
    again = run_sources(sb.world.source_ids, instance=instance)
    # One probe per source; the reconcile sample ran an hour ago at most: not due.
    assert sb.stats.requests(path_prefix=CONTENTS_PATH) - before == len(sb.world.source_ids)
    for summary in again:
        assert summary.success and summary.metadata["contents"]["idle"] is True
        assert summary.checks["contents_reconciled"] is True

    # A change makes the next run compare again (the sample: the newest page or two).
    sb.world.add_content(sb.world.source_ids[0], body="new message")
    before = sb.stats.requests(path_prefix=CONTENTS_PATH)
    [changed] = run_sources(sb.world.source_ids[:1], instance=instance)
    assert changed.success and changed.metadata["contents"]["new_records"] == 1
    assert changed.checks["contents_reconciled"] is True
    # probe + resume + sweep + one sample page (the source's ~450 contents fit in one).
    assert sb.stats.requests(path_prefix=CONTENTS_PATH) - before == 4
