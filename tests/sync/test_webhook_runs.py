"""A webhook-triggered run reads only the changes sweep: new contents, edits, status changes and
remote deletions archived with one contents request, and the next scheduled run still exact
(sandbox over HTTP; pipelines/sync/contents.py)."""

from __future__ import annotations

from pipelines.archive.versions import saved_cursor
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from pipelines.sync.probe import FINGERPRINT_KEY
from schemas.ids import source_stream
from tests.sync.support import archived, client_for

CONTENTS_PATH = "/cx/social-messaging/v1/contents"


def _run(sb, ledger, source_id, run_id, **settings):
    before = sb.stats.requests(path_prefix=CONTENTS_PATH)
    with client_for(sb) as client:
        report = sync_contents(
            client, ledger, source_id, run_id=run_id, settings=ContentsSyncSettings(**settings)
        )
    return report, sb.stats.requests(path_prefix=CONTENTS_PATH) - before


def _cursor(ledger, source_id) -> dict:
    return saved_cursor(ledger, "contents", source_stream(source_id))


def test_one_request_archives_new_edited_replied_and_deleted_versions(sandbox_factory, ledger):
    sb = sandbox_factory(contents=400, sources=1)
    [source_id] = sb.world.source_ids
    _run(sb, ledger, source_id, "initial")
    before_versions = set(archived(ledger, source_id).versions)
    before_cursor = _cursor(ledger, source_id)
    existing = sorted(sb.world.content_ids(source_id))
    sb.world.add_content(source_id, body="a new message the webhook announced")
    sb.world.add_content(source_id, body="and another one")
    sb.world.edit_content(existing[3], body="edited before the webhook run")
    sb.world.set_status(existing[4], "Ignored")
    sb.world.delete_remotely(existing[5])

    report, requests = _run(sb, ledger, source_id, "webhook", changes_only=True)

    assert report.changes_only and not report.idle
    assert requests == 1  # the sweep's first page held every change: no probe, no crawl
    assert report.new_records == 2 and report.new_versions == 3  # edit, status, deletion
    assert archived(ledger, source_id).ids == sb.world.content_ids(source_id)
    assert len(set(archived(ledger, source_id).versions) - before_versions) == 5
    after = _cursor(ledger, source_id)
    # The crawl did not move and no fingerprint was saved: only a full pass makes a run idle.
    assert after["page_token"] == before_cursor["page_token"]
    assert after[FINGERPRINT_KEY] == before_cursor[FINGERPRINT_KEY]
    assert after["sweep_mark"] > before_cursor["sweep_mark"]


def test_the_next_scheduled_run_writes_nothing_again_then_is_idle(sandbox_factory, ledger):
    sb = sandbox_factory(contents=400, sources=1)
    [source_id] = sb.world.source_ids
    _run(sb, ledger, source_id, "initial")
    existing = sorted(sb.world.content_ids(source_id))
    sb.world.add_content(source_id, body="new")
    sb.world.edit_content(existing[7], body="edited")
    _run(sb, ledger, source_id, "webhook", changes_only=True)
    versions = set(archived(ledger, source_id).versions)
    manifests = sum(1 for _ in ledger.manifests("contents"))

    scheduled, requests = _run(sb, ledger, source_id, "scheduled")
    assert not scheduled.idle and not scheduled.changes_only and requests >= 3
    assert scheduled.new_versions == 0 and scheduled.new_records == 0  # exactly once
    assert set(archived(ledger, source_id).versions) == versions
    # Cursor-only commits (the crawl's position, the fingerprint) and no data file.
    assert scheduled.files == 0
    assert sum(1 for _ in ledger.manifests("contents")) >= manifests

    again, requests = _run(sb, ledger, source_id, "scheduled-2")
    assert again.idle and requests == 1


def test_a_first_load_or_full_refresh_makes_the_full_pass_even_when_webhooks_ask(
    sandbox_factory, ledger
):
    sb = sandbox_factory(contents=300, sources=1)
    [source_id] = sb.world.source_ids
    first, _ = _run(sb, ledger, source_id, "first", changes_only=True)
    assert not first.changes_only
    assert archived(ledger, source_id).ids == sb.world.content_ids(source_id)
    refresh, _ = _run(sb, ledger, source_id, "refresh", changes_only=True, full_refresh=True)
    assert not refresh.changes_only and refresh.new_versions == 0
