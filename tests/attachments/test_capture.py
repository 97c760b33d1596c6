"""Attachment capture against the sandbox over HTTP and a local archive (faults: sandbox only)."""

from __future__ import annotations

import hashlib

from pipelines.archive import keys
from pipelines.archive.verify import verify, verify_recent
from pipelines.attachments.fetch import FetchSettings
from pipelines.attachments.sync import (
    AttachmentsSyncSettings,
    archived_attachment_table,
    pending_downloads,
)
from pipelines.settings import Settings
from sandbox import files
from schemas.ids import source_stream
from tests.attachments.support import (
    archive_attachments,
    archive_contents,
    blob_sha,
    listed_attachments,
)


def test_capture_stores_every_attachment_once_by_hash_and_verify_covers_it(sandbox_factory, ledger):
    sb = sandbox_factory(contents=300, sources=1)
    source_id = sb.world.source_ids[0]
    listed = listed_attachments(sb, source_id)
    first, second = sorted(a for _, a in listed)[:2]
    sb.world.set_attachment(second, same_bytes_as=first)  # the same file sent twice
    listed = listed_attachments(sb, source_id)
    archive_contents(sb, ledger, source_id)
    before = sb.stats.requests(group="Light")

    report = archive_attachments(sb, ledger, source_id)

    assert sb.stats.requests(group="Light") == before  # downloads are not API calls
    assert report.downloaded == len(listed) > 5 and not report.failed
    rows = archived_attachment_table(ledger, source_id).to_pylist()
    assert {(r["content_id"], r["id"]) for r in rows} == set(listed)
    for row in rows:
        assert row["sha256"] == blob_sha(sb, row["id"])
        assert row["size"] == row["declared_size"] and row["size_matches"]
        data = ledger.store.get(row["object_key"])
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
    shared = {r["object_key"] for r in rows if r["id"] in (first, second)}
    assert len(shared) == 1
    assert report.stored == len({r["sha256"] for r in rows}) == len(rows) - 1
    assert verify(ledger.store).ok

    again = archive_attachments(sb, ledger, source_id, run_id="run-2")  # nothing new: no request
    assert again.idle and sb.stats.requests(group="Files") == len(listed)


def test_bytes_an_older_archive_holds_in_layout_1_are_named_not_copied(sandbox_factory, ledger):
    sb = sandbox_factory(contents=120, sources=1)
    source_id = sb.world.source_ids[0]
    attachment_id = sorted(a for _, a in listed_attachments(sb, source_id))[0]
    sha = blob_sha(sb, attachment_id)
    old_key = keys.attachment_blob_keys(sha)[1]
    assert old_key == f"attachments/sha256={sha}"
    data = b"".join(files.blob_chunks(sb.cfg.seed, sb.world.attachment(attachment_id)))
    ledger.store.put(old_key, data, content_type="application/octet-stream")
    archive_contents(sb, ledger, source_id)

    report = archive_attachments(sb, ledger, source_id)

    rows = archived_attachment_table(ledger, source_id).to_pylist()
    assert {r["object_key"] for r in rows if r["id"] == attachment_id} == {old_key}
    assert not ledger.store.exists(keys.attachment_blob_key(sha))
    assert report.stored == len({r["sha256"] for r in rows}) - 1
    assert verify(ledger.store).ok


def test_contents_keep_their_cursor_and_new_contents_are_picked_up(sandbox_factory, ledger):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    archive_attachments(sb, ledger, source_id)
    head = ledger.head("contents", source_stream(source_id))
    assert "high_water_time" in head.cursor and "attachments" in head.cursor
    # A content edited later: its attachments are listed again by the new version, already
    # captured (not downloaded again); a new content's are downloaded.
    content_id = next(iter(listed_attachments(sb, source_id)))[0]
    sb.world.edit_content(content_id, body="edited")
    new_id = sb.world.add_content(source_id, with_attachments=True)
    archive_contents(sb, ledger, source_id, run_id="run-2")
    files_before = sb.stats.requests(group="Files")
    report = archive_attachments(sb, ledger, source_id, run_id="run-2")
    fresh = [a for (c, a) in listed_attachments(sb, source_id) if c == new_id]
    assert report.already_captured >= 1 and report.downloaded == len(fresh) >= 1
    assert sb.stats.requests(group="Files") - files_before == len(fresh)
    rows = archived_attachment_table(ledger, source_id).to_pylist()
    assert len(rows) == len({(r["content_id"], r["id"]) for r in rows})  # exactly once
    assert {r["id"] for r in rows if r["content_id"] == new_id} == set(fresh)


def test_expired_link_is_refreshed_through_get_content(sandbox_factory, ledger):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    sb.faults.expire_links_now()  # every archived uri now answers 403 ATT-403
    before = sb.stats.requests(path_prefix="/cx/social-messaging/v1/contents/")
    report = archive_attachments(sb, ledger, source_id)
    assert not report.failed and report.refreshed_links == report.downloaded > 0
    assert sb.stats.requests(path_prefix="/cx/social-messaging/v1/contents/") - before == (
        report.downloaded
    )
    assert sb.stats.status_count(403) == report.downloaded


def test_truncated_bodies_are_detected_by_size_and_fetched_again(sandbox_factory, ledger):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    sb.faults.set("attachment", truncate_ratio=0.5, error_5xx_ratio=0.2)
    settings = AttachmentsSyncSettings(
        downloads_per_second=0, fetch=FetchSettings(backoff_seconds=0.01, attempts=30)
    )
    report = archive_attachments(sb, ledger, source_id, settings=settings)
    assert not report.failed
    for row in archived_attachment_table(ledger, source_id).to_pylist():
        assert row["sha256"] == blob_sha(sb, row["id"]) and row["size_matches"]
    assert verify(ledger.store).ok


def test_a_permanent_404_is_quarantined_kept_pending_and_fetched_by_a_later_run(
    sandbox_factory, ledger
):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    gone = sorted(a for _, a in listed_attachments(sb, source_id))[0]
    sb.faults.set(f"{files.FILES_PREFIX}{gone}", error_status=404)

    report = archive_attachments(sb, ledger, source_id)

    assert [f["id"] for f in report.failed] == [gone]
    assert "404" in report.failed[0]["reason"]
    assert [p["id"] for p in pending_downloads(ledger, source_id)] == [gone]
    stream = source_stream(source_id)
    quarantined = [e for e in ledger.state("contents", stream).live_files("quarantine")]
    rows = ledger.read_table(quarantined).to_pylist()
    assert [r["table_name"] for r in rows] == ["attachments"] and "404" in rows[0]["reason"]

    sb.faults.clear()
    later = archive_attachments(sb, ledger, source_id, run_id="run-2")
    assert later.downloaded == 1 and not later.failed
    assert pending_downloads(ledger, source_id) == []
    ids = {r["id"] for r in archived_attachment_table(ledger, source_id).to_pylist()}
    assert gone in ids


def test_verify_reports_a_changed_or_missing_attachment_object(sandbox_factory, ledger, tmp_path):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    archive_attachments(sb, ledger, source_id)
    row = archived_attachment_table(ledger, source_id).to_pylist()[0]
    path = ledger.store.root / row["object_key"]
    path.chmod(0o644)
    path.write_bytes(b"not the file")
    report = verify(ledger.store)
    assert not report.ok
    assert [f.key for f in report.of_kind("changed")] == [row["object_key"]]
    recent = verify_recent(ledger.store, source_stream(source_id))  # what every run checks
    assert [f.key for f in recent.of_kind("changed")] == [row["object_key"]]
    stray = ledger.store.root / keys.attachment_blob_key("0" * 64)
    stray.write_bytes(b"x")
    assert keys.attachment_blob_key("0" * 64) in [f.key for f in verify(ledger.store).findings]


def test_a_50_mb_attachment_is_streamed_with_bounded_memory(sandbox_factory, ledger):
    import tracemalloc

    sb = sandbox_factory(contents=120, sources=1)
    source_id = sb.world.source_ids[0]
    (content_id, attachment_id), *_ = sorted(listed_attachments(sb, source_id))
    sb.world.set_attachment(attachment_id, size=50_000_000)
    archive_contents(sb, ledger, source_id)
    tracemalloc.start()
    try:
        report = archive_attachments(sb, ledger, source_id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not report.failed and report.bytes_downloaded >= 50_000_000
    assert peak < 20_000_000  # Python allocations of client and server together, 1 MiB chunks
    row = next(
        r
        for r in archived_attachment_table(ledger, source_id).to_pylist()
        if r["id"] == attachment_id
    )
    assert row["size"] == 50_000_000 and row["sha256"] == blob_sha(sb, attachment_id)
    assert verify(ledger.store).ok


def test_the_audit_catalog_still_builds_with_attachments_in_the_contents_ledger(
    sandbox_factory, ledger, tmp_path
):
    from pipelines.catalog.build import build_catalog

    sb = sandbox_factory(contents=120, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    archive_attachments(sb, ledger, source_id)
    build_catalog(ledger.store, str(tmp_path / "audit.duckdb"), Settings())
