"""Each attachment is downloaded once, whatever re-lists it, against the sandbox's rotating links.

RingCentral signs every attachment link afresh on each listing, GET and webhook (sandbox.files);
a newer version of a message, or a full refresh, lists the same files again with new links. The
capture must not download them again, must refresh a dead link by reading the content by id
before giving up, and must never quarantine a file the archive already holds. Faults (revoked
links, a removed attachment, API errors) are the sandbox's own; nothing is mocked.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from pipelines.attachments.sync import (
    archived_attachment_table,
    pending_downloads,
    sync_attachments,
)
from pipelines.ringcentral.client import RingCentralClient
from pipelines.ringcentral.config import ClientSettings
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from sandbox import files
from schemas.ids import source_stream
from tests.attachments.support import (
    FAST,
    archive_attachments,
    archive_contents,
    blob_sha,
    listed_attachments,
)
from tests.sync.support import client_for

CONTENT_BY_ID = "/cx/social-messaging/v1/contents/"


def _full_refresh(sb, ledger, source_id, run_id):
    settings = ContentsSyncSettings(full_refresh=True)
    with client_for(sb) as client:
        sync_contents(client, ledger, source_id, run_id=run_id, settings=settings)


def _quarantined(ledger, source_id) -> list[dict]:
    entries = ledger.state("contents", source_stream(source_id)).live_files("quarantine")
    return ledger.read_table(entries).to_pylist() if entries else []


def _archived_links(ledger, source_id, content_id) -> set[str]:
    """The `uri` of every attachment of every archived version of one content."""
    entries = ledger.state("contents", source_stream(source_id)).live_files("contents")
    table = ledger.read_table(entries, ["id", "attachments"]).to_pylist()
    return {a["uri"] for r in table if r["id"] == content_id for a in r["attachments"] or []}


def _captured_once(sb, ledger, source_id, expected: dict[str, str] | None = None) -> list[dict]:
    """The committed rows: one per (content, attachment), each with the file's true bytes
    (`expected`: attachment id -> SHA-256, for files the world no longer lists)."""
    rows = archived_attachment_table(ledger, source_id).to_pylist()
    assert len(rows) == len({(r["content_id"], r["id"]) for r in rows})
    for row in rows:
        sha = (expected or {}).get(row["id"]) or blob_sha(sb, row["id"])
        assert row["sha256"] == sha and row["size_matches"]
    return rows


def test_a_new_version_of_a_message_lists_its_files_again_and_none_is_downloaded_again(
    sandbox_factory, ledger
):
    sb = sandbox_factory(contents=200, sources=1)
    assert sb.cfg.attachment_links == "rotating"
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    first = archive_attachments(sb, ledger, source_id)
    captured = listed_attachments(sb, source_id)
    assert first.downloaded == len(captured) > 5 and first.already_captured == 0
    downloads = sb.stats.requests(group="Files")
    assert downloads == len(captured)

    # A real edit of a message with two files, and one with a single file: new versions.
    by_content: dict[str, list[str]] = {}
    for content_id, attachment_id in captured:
        by_content.setdefault(content_id, []).append(attachment_id)
    edited = [
        next(c for c, a in by_content.items() if len(a) == 2),
        next(c for c, a in by_content.items() if len(a) == 1),
    ]
    for content_id in edited:
        sb.world.edit_content(content_id)
    archive_contents(sb, ledger, source_id, run_id="run-2")
    for content_id in edited:  # the new version carries links the first one did not
        links = _archived_links(ledger, source_id, content_id)
        assert len(links) == 2 * len(by_content[content_id])

    again = archive_attachments(sb, ledger, source_id, run_id="run-2")

    relisted = sum(len(by_content[c]) for c in edited)
    assert again.attachments_seen >= relisted
    assert again.already_captured == again.attachments_seen
    assert again.downloaded == again.stored == again.bytes_downloaded == 0
    assert not again.failed and not again.pending
    assert sb.stats.requests(group="Files") == downloads  # not one download
    assert sb.stats.requests(path_prefix=CONTENT_BY_ID) == 0  # and no link refreshed
    assert len(_captured_once(sb, ledger, source_id)) == len(captured)


def test_a_file_renamed_in_a_new_version_gets_a_row_naming_the_same_bytes_without_download(
    sandbox_factory, ledger
):
    sb = sandbox_factory(contents=150, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    archive_attachments(sb, ledger, source_id)
    (content_id, attachment_id), *_ = sorted(listed_attachments(sb, source_id))
    before = {
        r["id"]: r
        for r in archived_attachment_table(ledger, source_id).to_pylist()
        if r["content_id"] == content_id
    }
    downloads = sb.stats.requests(group="Files")
    sb.world.set_attachment(attachment_id, filename="renamed.bin")
    sb.world.edit_content(content_id)
    archive_contents(sb, ledger, source_id, run_id="run-2")

    report = archive_attachments(sb, ledger, source_id, run_id="run-2")

    assert report.already_captured == report.attachments_seen and report.downloaded == 0
    assert sb.stats.requests(group="Files") == downloads
    rows = [
        r
        for r in archived_attachment_table(ledger, source_id).to_pylist()
        if (r["content_id"], r["id"]) == (content_id, attachment_id)
    ]
    old, new = sorted(rows, key=lambda r: r["archived_at"])
    assert old["filename"] != new["filename"] == "renamed.bin"
    for column in ("sha256", "object_key", "size", "declared_size", "fetched_at"):
        assert new[column] == old[column] == before[attachment_id][column]
    assert new["size_matches"] and new["record_sha256"] != old["record_sha256"]


def test_a_full_refresh_downloads_and_quarantines_nothing_already_archived(sandbox_factory, ledger):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    archive_attachments(sb, ledger, source_id)
    captured = listed_attachments(sb, source_id)
    downloads = sb.stats.requests(group="Files")
    sb.faults.expire_links_now()  # every archived link is dead from now on
    sb.world.edit_content(next(iter(captured))[0])  # so the refresh commits a version
    _full_refresh(sb, ledger, source_id, "run-2")

    report = archive_attachments(sb, ledger, source_id, run_id="run-2")

    assert report.contents_files > 1  # the refresh made the capture re-read every file
    assert report.already_captured == report.attachments_seen == len(captured)
    assert report.downloaded == 0 and not report.failed and not report.pending
    assert sb.stats.requests(group="Files") == downloads
    assert sb.stats.status_count(403) == 0  # no dead link was even tried
    assert _quarantined(ledger, source_id) == []
    assert len(_captured_once(sb, ledger, source_id)) == len(captured)


def test_links_revoked_between_listing_and_download_are_refreshed_by_id(sandbox_factory, ledger):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    listed = listed_attachments(sb, source_id)
    sb.faults.expire_links_now()  # every link the archived contents hold is refused now

    report = archive_attachments(sb, ledger, source_id)

    assert not report.failed and not report.pending and _quarantined(ledger, source_id) == []
    assert report.downloaded == report.refreshed_links == len(listed)
    assert sb.stats.status_count(403) == len(listed)  # each dead link tried once
    assert sb.stats.requests(path_prefix=CONTENT_BY_ID) == len(listed)  # then GET by id
    assert sb.stats.requests(group="Files") == 2 * len(listed)
    assert {(r["content_id"], r["id"]) for r in _captured_once(sb, ledger, source_id)} == set(
        listed
    )


def test_links_past_their_own_expiry_are_refreshed_by_id(sandbox_factory, ledger):
    sb = sandbox_factory(contents=120, sources=1, attachment_link_ttl_seconds=2.0)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    archived: dict[tuple[str, str], str] = {}  # the links as the contents table holds them
    entries = ledger.state("contents", source_stream(source_id)).live_files("contents")
    for row in ledger.read_table(entries, ["id", "attachments"]).to_pylist():
        for a in row["attachments"] or []:
            archived[(row["id"], a["id"])] = a["uri"]
    last_exp = max(int(parse_qs(urlsplit(uri).query)["exp"][0]) for uri in archived.values())
    while sb.world.clock_ms() <= last_exp:  # wait until every archived link is past its exp
        time.sleep(0.05)

    report = archive_attachments(sb, ledger, source_id)

    assert not report.failed and _quarantined(ledger, source_id) == []
    assert report.downloaded == len(archived) and report.refreshed_links >= len(archived)
    assert sb.stats.status_count(403) >= len(archived)
    assert {(r["content_id"], r["id"]) for r in _captured_once(sb, ledger, source_id)} == set(
        archived
    )


def test_an_archived_file_whose_content_no_longer_lists_it_is_never_quarantined(
    sandbox_factory, ledger
):
    sb = sandbox_factory(contents=200, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    listed = sorted(listed_attachments(sb, source_id))
    (kept_content, kept), (lost_content, lost) = listed[0], listed[-1]
    sb.faults.set(f"{files.FILES_PREFIX}{lost}", error_status=404)  # never captured
    first = archive_attachments(sb, ledger, source_id)
    assert [f["id"] for f in first.failed] == [lost]
    sb.faults.clear()
    downloads = sb.stats.requests(group="Files")

    # Both files leave their messages and every link dies; a full refresh re-reads it all.
    expected = {a: blob_sha(sb, a) for _, a in listed}
    sb.world.remove_attachment(kept)
    sb.world.remove_attachment(lost)
    sb.faults.expire_links_now()
    _full_refresh(sb, ledger, source_id, "run-2")

    report = archive_attachments(sb, ledger, source_id, run_id="run-2")

    # The archived one is not tried, let alone quarantined; only the one never captured is.
    assert report.already_captured == len(listed) - 1
    assert [(f["content_id"], f["id"]) for f in report.failed] == [(lost_content, lost)]
    assert "no longer lists" in report.failed[0]["reason"]
    assert [p["id"] for p in pending_downloads(ledger, source_id)] == [lost]
    assert report.downloaded == 0 and sb.stats.requests(group="Files") - downloads == 1
    quarantined_ids = [r["raw_json"] for r in _quarantined(ledger, source_id)]
    assert all(kept not in raw for raw in quarantined_ids)
    rows = _captured_once(sb, ledger, source_id, expected)
    assert (kept_content, kept) in {(r["content_id"], r["id"]) for r in rows}


def test_captured_files_left_pending_by_an_earlier_full_refresh_are_dropped_from_the_list(
    sandbox_factory, ledger
):
    """An archive whose earlier capture quarantined files it already held (as it did against
    rotating links) heals: those leave `pending` without a download."""
    sb = sandbox_factory(contents=150, sources=1)
    source_id = sb.world.source_ids[0]
    stream = source_stream(source_id)
    archive_contents(sb, ledger, source_id)
    archive_attachments(sb, ledger, source_id)
    listed = sorted(listed_attachments(sb, source_id))
    head = ledger.head("contents", stream)
    cursor = dict(head.cursor)
    cursor["attachments"] = {
        **cursor["attachments"],
        "pending": [  # the cursor an older version wrote: no size kept
            {"content_id": c, "id": a, "reason": "HTTP 403 Link expired"} for c, a in listed[:3]
        ],
    }
    ledger.commit_batch("contents", stream, {}, cursor, "older-run")
    assert len(pending_downloads(ledger, source_id)) == 3
    downloads = sb.stats.requests(group="Files")

    report = archive_attachments(sb, ledger, source_id, run_id="run-2")

    assert report.already_captured == 3 and report.downloaded == 0 and not report.failed
    assert pending_downloads(ledger, source_id) == []
    assert sb.stats.requests(group="Files") == downloads


def test_an_api_error_while_refreshing_a_link_is_not_taken_for_a_removed_file(
    sandbox_factory, ledger
):
    sb = sandbox_factory(contents=120, sources=1)
    source_id = sb.world.source_ids[0]
    archive_contents(sb, ledger, source_id)
    listed = listed_attachments(sb, source_id)
    sb.faults.expire_links_now()
    sb.faults.set("content", error_5xx_ratio=1.0)  # GET content by id answers 5xx
    one_try = ClientSettings.from_env(sb.env, max_attempts=1)
    with RingCentralClient(one_try) as client:
        report = sync_attachments(client, ledger, source_id, run_id="run-1", settings=FAST)
    assert len(report.failed) == len(listed)
    assert all("no fresh link" in f["reason"] for f in report.failed)
    assert not any("no longer lists" in f["reason"] for f in report.failed)
    assert len(pending_downloads(ledger, source_id)) == len(listed)

    sb.faults.clear()
    later = archive_attachments(sb, ledger, source_id, run_id="run-2")
    assert later.downloaded == len(listed) and not later.failed
    assert pending_downloads(ledger, source_id) == []
    _captured_once(sb, ledger, source_id)
