"""Reconciliation against the API: proven complete, or honestly not proven."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.sync.contents import sync_contents
from pipelines.sync.reconcile import reconcile_source
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
