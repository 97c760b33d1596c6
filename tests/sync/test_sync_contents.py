"""sync_contents against the sandbox over HTTP and a local archive: the extraction invariants."""

from __future__ import annotations

from pipelines.archive.verify import verify
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from schemas.ids import source_stream
from tests.sync.support import archived, client_for


def _run(sandbox, ledger, source_id, run_id="run-1", **settings):
    with client_for(sandbox) as client:
        return sync_contents(
            client, ledger, source_id, run_id=run_id, settings=ContentsSyncSettings(**settings)
        )


def test_first_run_archives_every_visible_content_in_checkpointed_batches(sandbox_factory, ledger):
    sb = sandbox_factory(contents=1200, sources=2)
    for source_id in sb.world.source_ids:
        report = _run(sb, ledger, source_id, per_page=100, batch_records=250)
        assert archived(ledger, source_id).ids == sb.world.content_ids(source_id)
        assert report.new_records == len(sb.world.content_ids(source_id))
        manifests = list(ledger.manifests("contents", source_stream(source_id)))
        assert len(manifests) == report.batches > 1
        high_waters = [m.cursor["high_water_time"] for m in manifests]
        assert high_waters == sorted(high_waters)


def test_second_run_without_new_data_makes_two_requests_and_writes_nothing(sandbox_factory, ledger):
    sb = sandbox_factory(contents=600, sources=2)
    for source_id in sb.world.source_ids:
        _run(sb, ledger, source_id)
    before_manifests = sum(1 for _ in ledger.manifests("contents"))
    # The first run had no sweep mark: let the second set it, then measure the third.
    for source_id in sb.world.source_ids:
        _run(sb, ledger, source_id, run_id="run-2")
    settled = sum(1 for _ in ledger.manifests("contents"))
    for source_id in sb.world.source_ids:
        before = sb.stats.requests(path_prefix="/cx/social-messaging/v1/contents")
        report = _run(sb, ledger, source_id, run_id="run-3")
        after = sb.stats.requests(path_prefix="/cx/social-messaging/v1/contents")
        assert after - before <= 2
        assert report.batches == 0 and report.new_records == 0 and report.new_versions == 0
    assert sum(1 for _ in ledger.manifests("contents")) == settled >= before_manifests


def test_added_edited_and_deleted_contents_become_exactly_the_new_versions(sandbox_factory, ledger):
    sb = sandbox_factory(contents=800, sources=1)
    source_id = sb.world.source_ids[0]
    _run(sb, ledger, source_id)
    versions_before = set(archived(ledger, source_id).versions)
    existing = sorted(sb.world.content_ids(source_id))
    new_id = sb.world.add_content(source_id, body="a brand new question")
    sb.world.edit_content(existing[10], body="edited after the fact")
    sb.world.delete_remotely(existing[20])

    report = _run(sb, ledger, source_id, run_id="run-2")
    versions_after = set(archived(ledger, source_id).versions)
    added = versions_after - versions_before
    assert {v[0] for v in added} == {new_id, existing[10], existing[20]}
    assert len(added) == 3
    assert report.new_records == 1 and report.new_versions == 2
    # A replay finds nothing more: every version is archived once.
    _run(sb, ledger, source_id, run_id="run-3")
    assert set(archived(ledger, source_id).versions) == versions_after


def test_refused_page_token_falls_back_to_a_descending_scan(sandbox_factory, ledger):
    sb = sandbox_factory(contents=500, sources=1)
    source_id = sb.world.source_ids[0]
    _run(sb, ledger, source_id, per_page=100)
    new_ids = {sb.world.add_content(source_id, body=f"after the cursor {i}") for i in range(3)}
    sb.faults.set("contents", refuse_page_tokens=True)
    report = _run(sb, ledger, source_id, run_id="run-2", per_page=100)
    assert report.used_descending_fallback
    assert new_ids <= archived(ledger, source_id).ids
    assert archived(ledger, source_id).ids == sb.world.content_ids(source_id)


def test_full_refresh_rereads_everything_and_writes_no_duplicate(sandbox_factory, ledger):
    sb = sandbox_factory(contents=400, sources=1)
    source_id = sb.world.source_ids[0]
    _run(sb, ledger, source_id)
    versions = set(archived(ledger, source_id).versions)
    # An edit of an early message: the re-scan finds it on an early page and commits it there.
    sb.world.edit_content(sorted(sb.world.content_ids(source_id))[3], body="changed early")
    report = _run(
        sb, ledger, source_id, run_id="run-2", full_refresh=True, per_page=50, batch_records=1
    )
    assert report.pages >= 1 and report.new_records == 0 and report.new_versions == 1
    assert len(set(archived(ledger, source_id).versions) - versions) == 1
    # The cursor never goes back, even while a re-scan passes older pages.
    assert verify(ledger.store).ok
