"""An idle run costs one request; a change between runs is still archived (sandbox over HTTP)."""

from __future__ import annotations

from pipelines.archive.versions import saved_cursor
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from pipelines.sync.probe import FINGERPRINT_KEY, select_changed_sources
from schemas.ids import source_stream
from tests.sync.support import archived, client_for

CONTENTS_PATH = "/cx/social-messaging/v1/contents"


def _run(sb, ledger, source_id, run_id, **settings):
    with client_for(sb) as client:
        return sync_contents(
            client, ledger, source_id, run_id=run_id, settings=ContentsSyncSettings(**settings)
        )


def _requests(sb) -> int:
    return sb.stats.requests(path_prefix=CONTENTS_PATH)


def _measured_run(sb, ledger, source_id, run_id, **settings):
    before = _requests(sb)
    report = _run(sb, ledger, source_id, run_id, **settings)
    return report, _requests(sb) - before


def test_an_idle_run_makes_one_request_and_commits_nothing(sandbox_factory, ledger):
    sb = sandbox_factory(contents=900, sources=3)
    for source_id in sb.world.source_ids:
        _run(sb, ledger, source_id, "run-1", per_page=100)
    manifests = sum(1 for _ in ledger.manifests("contents"))
    for source_id in sb.world.source_ids:
        report, requests = _measured_run(sb, ledger, source_id, "run-2", per_page=100)
        assert requests == 1
        assert report.idle and report.batches == 0 and report.pages == 0
        assert report.newest_creation_time is not None
    assert sum(1 for _ in ledger.manifests("contents")) == manifests


def test_an_edit_between_runs_is_archived_as_a_new_version(sandbox_factory, ledger):
    sb = sandbox_factory(contents=600, sources=2)
    source_id, other = sb.world.source_ids
    for sid in (source_id, other):
        _run(sb, ledger, sid, "run-1")
    early = sorted(sb.world.content_ids(source_id))[5]
    versions_before = set(archived(ledger, source_id).versions)
    # An edit moves lastModifiedTime but not creationTime: the resume crawl alone misses it.
    sb.world.edit_content(early, body="edited after it was archived")
    report, requests = _measured_run(sb, ledger, source_id, "run-2")
    assert not report.idle and report.new_versions == 1 and report.new_records == 0
    assert {v[0] for v in set(archived(ledger, source_id).versions) - versions_before} == {early}
    assert requests >= 3  # probe, resume, sweep
    # The other source did not change: still one request. The edited one is idle again.
    assert _measured_run(sb, ledger, other, "run-2")[1] == 1
    report, requests = _measured_run(sb, ledger, source_id, "run-3")
    assert report.idle and requests == 1


def test_new_deleted_and_status_changes_end_the_idle_state(sandbox_factory, ledger):
    sb = sandbox_factory(contents=500, sources=1)
    [source_id] = sb.world.source_ids
    _run(sb, ledger, source_id, "run-1")
    existing = sorted(sb.world.content_ids(source_id))
    changes = [
        lambda: sb.world.add_content(source_id, body="new after the run"),
        lambda: sb.world.delete_remotely(existing[1]),
        lambda: sb.world.set_status(existing[2], "Ignored"),
    ]
    for number, change in enumerate(changes, start=2):
        before = set(archived(ledger, source_id).versions)
        change()
        report, _ = _measured_run(sb, ledger, source_id, f"run-{number}")
        assert not report.idle
        assert len(set(archived(ledger, source_id).versions) - before) == 1
    assert archived(ledger, source_id).ids == sb.world.content_ids(source_id)


def test_a_change_in_the_same_second_as_the_mark_is_not_mistaken_for_idle(sandbox_factory, ledger):
    sb = sandbox_factory(contents=300, sources=1)
    [source_id] = sb.world.source_ids
    _run(sb, ledger, source_id, "run-1")
    saved = saved_cursor(ledger, "contents", source_stream(source_id))
    newest_id = saved[FINGERPRINT_KEY].split("|", 1)[0]
    # Edited again at once: lastModifiedTime keeps its second, the record does not.
    sb.world.edit_content(newest_id, body="second edit in the same second")
    report = _run(sb, ledger, source_id, "run-2")
    assert not report.idle and report.new_versions == 1


def test_without_modified_order_every_run_crawls_and_looks_back(sandbox_factory, ledger):
    sb = sandbox_factory(contents=300, sources=1)
    [source_id] = sb.world.source_ids
    sb.faults.set("contents", refuse_order_by="-lastModifiedTime")
    _run(sb, ledger, source_id, "run-1")
    edited = sorted(sb.world.content_ids(source_id))[-1]
    sb.world.edit_content(edited, body="edited; found by the bounded look-back")
    report, requests = _measured_run(sb, ledger, source_id, "run-2")
    assert report.modified_order_refused and not report.idle
    assert report.new_versions == 1
    # The refused probe, the resume, the look-back: the sweep does not ask again.
    assert requests == 3


def test_account_probe_makes_one_request_and_selects_exactly_the_changed_sources(
    sandbox_factory, ledger
):
    sb = sandbox_factory(contents=1500, sources=6)
    sources = sb.world.source_ids
    for source_id in sources:
        _run(sb, ledger, source_id, "run-1")
    with client_for(sb) as client:
        before = _requests(sb)
        first = select_changed_sources(client, ledger, sources, previous_through=None)
        assert _requests(sb) - before == 1
        assert first.changed == [] and first.through
        through = first.through

        edited = sorted(sb.world.content_ids(sources[1]))[0]
        sb.world.edit_content(edited, body="edited")
        sb.world.add_content(sources[4], body="new")
        before = _requests(sb)
        probe = select_changed_sources(client, ledger, sources, previous_through=through)
        assert _requests(sb) - before == 1
        assert probe.changed == [sources[1], sources[4]]
        assert probe.undecided == []
        assert sorted(probe.unchanged) == sorted(set(sources) - {sources[1], sources[4]})

        # The runs archive the changes; the next cycle finds nothing to run.
        for source_id in probe.to_run:
            assert not _run(sb, ledger, source_id, "run-2").idle
        before = _requests(sb)
        settled = select_changed_sources(client, ledger, sources, previous_through=probe.through)
        assert _requests(sb) - before == 1
        assert settled.to_run == []


def test_account_probe_is_honest_when_one_page_cannot_speak_for_a_source(sandbox_factory, ledger):
    sb = sandbox_factory(contents=1200, sources=3)
    sources = sb.world.source_ids
    for source_id in sources:
        _run(sb, ledger, source_id, "run-1")
    with client_for(sb) as client:
        baseline = select_changed_sources(client, ledger, sources, previous_through=None)
        # More changes than the probe page holds, all in one source: the others are not
        # listed and the page does not reach back to the previous cycle, so they are run.
        for number in range(5):
            sb.world.add_content(sources[0], body=f"burst {number}")
        probe = select_changed_sources(
            client, ledger, sources, previous_through=baseline.through, per_page=3
        )
    assert probe.changed == [sources[0]]
    assert set(probe.undecided) == set(sources[1:])
    assert probe.unchanged == []


def test_a_source_never_archived_is_always_selected(sandbox_factory, ledger):
    sb = sandbox_factory(contents=300, sources=2)
    archived_source, new_source = sb.world.source_ids
    _run(sb, ledger, archived_source, "run-1")
    with client_for(sb) as client:
        probe = select_changed_sources(client, ledger, sb.world.source_ids, previous_through=None)
    assert new_source in probe.changed
    assert archived_source not in probe.to_run
