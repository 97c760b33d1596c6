"""Reconciliation against the API: proven complete, or honestly not proven."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from pipelines import interrupts
from pipelines.archive.disposal import commit_disposition, dispose_objects
from pipelines.sync.contents import sync_contents
from pipelines.sync.reconcile import reconcile_source
from schemas.common import iso_ms
from schemas.contents import normalise_contents
from schemas.ids import source_stream
from tests.sync.support import client_for


def test_full_reconciliation_proves_the_archive_complete(sandbox_factory, ledger):
    sb = sandbox_factory(contents=600, sources=1)
    source_id = sb.world.source_ids[0]
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
        report = reconcile_source(client, ledger, source_id, mode="full", per_page=100)
    assert report.ok and not report.missing and report.incomplete is None
    # Every id but those in the high-water second (not due yet) was checked.
    assert report.api_ids_checked + report.not_due == len(sb.world.content_ids(source_id))
    assert report.api_ids_checked > 0.9 * len(sb.world.content_ids(source_id))


def test_a_stop_request_ends_a_full_listing_between_pages(sandbox_factory, ledger):
    """A full listing of a large source takes minutes at the Light limit: Ctrl-C ends it at the
    next page instead of after the last one (the check then fails as interrupted)."""
    sb = sandbox_factory(contents=600, sources=1)
    source_id = sb.world.source_ids[0]
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
        before = sb.stats.requests(path_prefix="/cx/social-messaging/v1/contents")
        interrupts.request_stop("test stop")
        try:
            with pytest.raises(interrupts.StopRequested, match="reconcile listing"):
                reconcile_source(client, ledger, source_id, mode="full", per_page=100)
        finally:
            interrupts.reset()
        assert sb.stats.requests(path_prefix="/cx/social-messaging/v1/contents") == before


def test_refused_page_tokens_leave_the_check_not_proven_instead_of_crashing(
    sandbox_factory, ledger
):
    sb = sandbox_factory(contents=600, sources=1)
    source_id = sb.world.source_ids[0]
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
        sb.faults.set("contents", refuse_page_tokens=True)
        report = reconcile_source(client, ledger, source_id, mode="full", per_page=100)
    assert not report.ok
    assert report.incomplete and "EDI-034" in report.incomplete
    assert report.api_ids_checked == 100 and not report.missing


def test_a_sample_reads_only_the_newest_files_and_still_finds_a_missing_id(sandbox_factory, ledger):
    sb = sandbox_factory(contents=3000, sources=1, days=60)
    source_id = sb.world.source_ids[0]
    records = sorted(sb.world.all_contents(source_id), key=lambda r: (r["creationTime"], r["id"]))
    # An archive that lacks one content from the middle of the newest page (a lost write).
    lost = records[-300]
    kept = [r for r in records if r["id"] != lost["id"]]
    for start in range(0, len(kept), 500):
        part = kept[start : start + 500]
        batch = normalise_contents(
            part, source_id=source_id, run_id="seed", batch_id="", archived_at=datetime.now(UTC)
        )
        ledger.commit_batch(
            "contents",
            source_stream(source_id),
            {"contents": batch.table, "quarantine": batch.quarantine},
            cursor={"high_water_time": part[-1]["creationTime"]},
            run_id="seed",
        )
    with client_for(sb) as client:
        sample = reconcile_source(client, ledger, source_id, mode="sample", per_page=200)
        full = reconcile_source(client, ledger, source_id, mode="full", per_page=1000)
    assert sample.missing == [lost["id"]] and full.missing == [lost["id"]]
    # The sample compared against the files of its 400 newest contents, not the archive.
    assert sample.archived_ids < len(kept) // 4
    assert full.archived_ids == len(kept)


def _invent(ledger, source_id: str, like: dict, created: datetime) -> str:
    """An insider's batch: a message RingCentral never had, made like `like` (a real record)."""
    record = dict(like, id=secrets.token_hex(12), body="Yes, I agree to waive any refund.")
    record["creationTime"] = record["lastModifiedTime"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    record["attachments"] = []
    batch = normalise_contents(
        [record], source_id=source_id, run_id="x", batch_id="", archived_at=datetime.now(UTC)
    )
    head = ledger.head("contents", source_stream(source_id))
    ledger.commit_batch(
        "contents",
        source_stream(source_id),
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor=dict(head.cursor),
        run_id="x",
    )
    return record["id"]


def test_archived_ids_the_api_does_not_list_are_named_not_remote_deletions(sandbox_factory, ledger):
    """An invented message is `not_in_api`: a full reconciliation names every one, a sample
    the ones created after the oldest content its pages listed. A message deleted on its
    channel stays listed (`remotelyDeleted`), so it is not named."""
    sb = sandbox_factory(contents=300, sources=1, days=30)
    source_id = sb.world.source_ids[0]
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
    newest = max(sb.world.all_contents(source_id), key=lambda r: r["creationTime"])
    moment = datetime.fromisoformat(newest["creationTime"].replace("Z", "+00:00"))
    recent = _invent(ledger, source_id, newest, moment - timedelta(minutes=1))
    old = _invent(ledger, source_id, newest, moment - timedelta(days=120))
    deleted = sorted(sb.world.content_ids(source_id))[0]
    sb.world.delete_remotely(deleted)
    with client_for(sb) as client:
        full = reconcile_source(client, ledger, source_id, mode="full", per_page=100)
        sample = reconcile_source(client, ledger, source_id, mode="sample", per_page=50)
    assert full.not_in_api == sorted([recent, old]) and not full.missing
    assert not full.ok and full.incomplete is None
    assert sample.not_in_api == [recent] and not sample.ok


def test_disposed_ids_are_neither_missing_nor_invented(sandbox_factory, ledger):
    """Ids a disposition removed from the archive are counted as disposed, not missing."""
    sb = sandbox_factory(contents=200, sources=1, days=30)
    source_id = sb.world.source_ids[0]
    stream = source_stream(source_id)
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id="run-1")
    oldest = sorted(ledger.committed_files("contents", stream), key=lambda e: e.key)[:2]
    commit_disposition(
        ledger,
        "contents",
        stream,
        oldest,
        oldest,
        as_of=iso_ms(datetime.now(UTC)),
        user="records@example.com",
        user_from="os",
        reason="retention ended",
        run_id="dispose",
    )
    dispose_objects(ledger.store, oldest)
    with client_for(sb) as client:
        report = reconcile_source(client, ledger, source_id, mode="full", per_page=100)
    assert report.ok and not report.missing and not report.not_in_api
    assert report.disposed == sum(e.rows for e in oldest) > 0


def test_a_source_the_agent_no_longer_reads_is_not_proven_rather_than_invented(
    sandbox_factory, ledger
):
    """Read taken away from the agent (a source archived before, now hidden): the API lists
    nothing of it. That proves nothing about the archive's ids: the report is incomplete,
    with no `not_in_api`."""
    sb = sandbox_factory(contents=300, sources=1, days=30)
    source_id = sb.world.hidden_source_ids[0]
    records = list(sb.world.all_contents(source_id))
    batch = normalise_contents(
        records, source_id=source_id, run_id="seed", batch_id="", archived_at=datetime.now(UTC)
    )
    ledger.commit_batch(
        "contents",
        source_stream(source_id),
        {"contents": batch.table, "quarantine": batch.quarantine},
        cursor={"high_water_time": max(r["creationTime"] for r in records)},
        run_id="seed",
    )
    with client_for(sb) as client:
        report = reconcile_source(client, ledger, source_id, mode="full", per_page=100)
    assert batch.table.num_rows > 0 and report.api_ids_checked == 0
    assert not report.ok and not report.not_in_api
    assert report.incomplete and "lost Read" in report.incomplete
