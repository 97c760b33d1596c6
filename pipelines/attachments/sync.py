"""Capture the attachments of one source's archived contents (the `attachments` asset).

What a run reads: the contents files the source's contents ledger committed after the seq in
this step's cursor (`cursor["attachments"]["contents_seq"]`), the `attachments` column of their
rows, plus the downloads still pending from earlier runs. Each file is downloaded (bounded
threads, own rate budget, retries, fresh links), stored once at `attachment_files/sha256=<hash>`,
and named by a row of the `attachments` table committed in the SAME contents ledger, so
`verify` covers the bytes. A download that fails for good is quarantined with its reason and
kept in the cursor's `pending` list, so later runs try it again.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pyarrow as pa

from pipelines.archive import keys
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import ObjectExistsError
from pipelines.attachments.fetch import (
    DownloadFailed,
    FetchSettings,
    RateBudget,
    download,
)
from schemas import attachments as schema
from schemas.ids import source_stream
from schemas.quarantine import QuarantineBuilder

logger = logging.getLogger(__name__)
LEDGER = "contents"
CURSOR_KEY = "attachments"


@dataclass
class AttachmentsSyncSettings:
    threads: int = 4
    downloads_per_second: float = 20.0
    batch_files: int = 500  # rows per committed batch
    fetch: FetchSettings = field(default_factory=FetchSettings)


@dataclass
class AttachmentsReport:
    source_id: str
    contents_files: int = 0
    attachments_seen: int = 0
    downloaded: int = 0
    stored: int = 0  # new objects written
    deduplicated: int = 0  # bytes already in the archive
    bytes_downloaded: int = 0
    size_mismatches: int = 0
    refreshed_links: int = 0
    failed: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)
    batches: int = 0
    idle: bool = False


@dataclass(frozen=True)
class _Job:
    content_id: str
    attachment: dict
    creation_time: Any


def _saved(ledger: Ledger, stream: str) -> tuple[dict, int]:
    head = ledger.head(LEDGER, stream)
    cursor = dict(head.cursor) if head is not None else {}
    return cursor, -1 if head is None else head.seq


def pending_downloads(ledger: Ledger, source_id: str) -> list[dict]:
    """The downloads that failed for good and wait for a later run (for the check)."""
    cursor, _ = _saved(ledger, source_stream(source_id))
    return list((cursor.get(CURSOR_KEY) or {}).get("pending", []))


def sync_attachments(
    client: Any,
    ledger: Ledger,
    source_id: str,
    *,
    run_id: str,
    settings: AttachmentsSyncSettings | None = None,
    http: httpx.Client | None = None,
) -> AttachmentsReport:
    settings = settings or AttachmentsSyncSettings()
    stream = source_stream(source_id)
    report = AttachmentsReport(source_id)
    cursor, head_seq = _saved(ledger, stream)
    own = dict(cursor.get(CURSOR_KEY) or {})
    after_seq = int(own.get("contents_seq", -1))
    pending = list(own.get("pending", []))
    entries = ledger.files_after(LEDGER, stream, after_seq) if head_seq > after_seq else []
    report.contents_files = len(entries)
    if not entries and not pending:
        report.idle = True
        return report

    jobs: dict[tuple[str, str], _Job] = {}
    if entries:
        table = ledger.read_table(entries, ["id", "creation_time", "attachments"])
        for content_id, created, listed in zip(
            table.column("id").to_pylist(),
            table.column("creation_time").to_pylist(),
            table.column("attachments").to_pylist(),
            strict=True,
        ):
            for item in listed or []:
                if item.get("id") and (content_id, item["id"]) not in jobs:
                    jobs[(content_id, item["id"])] = _Job(content_id, item, created)
        del table
    for waiting in pending:  # retried with a link the API gives now
        key = (waiting["content_id"], waiting["id"])
        if key not in jobs:
            jobs[key] = _Job(waiting["content_id"], {"id": waiting["id"], "uri": None}, None)
    report.attachments_seen = len(jobs)

    budget = RateBudget(settings.downloads_per_second)
    own_http = http is None
    http = http or httpx.Client(follow_redirects=True)  # no bearer token: links are signed
    still_pending: list[dict] = []
    try:
        ordered = list(jobs.values())
        for start in range(0, len(ordered), settings.batch_files):
            chunk = ordered[start : start + settings.batch_files]
            with ThreadPoolExecutor(settings.threads, thread_name_prefix="attachment") as pool:
                outcomes = list(
                    pool.map(
                        lambda job: _capture(job, client, http, ledger, settings, budget), chunk
                    )
                )
            last = start + settings.batch_files >= len(ordered)
            rows = [o for o in outcomes if isinstance(o, dict) and "sha256" in o]
            failures = [o for o in outcomes if isinstance(o, dict) and "reason" in o]
            still_pending += [
                {"content_id": f["content_id"], "id": f["id"], "reason": f["reason"]}
                for f in failures
            ]
            _commit(
                ledger, stream, source_id, run_id, rows, failures, still_pending, head_seq, last
            )
            report.batches += 1
            report.downloaded += len(rows)
            for row in rows:
                report.bytes_downloaded += row["size"]
                report.size_mismatches += not row["size_matches"]
                report.refreshed_links += row.pop("_refreshed", 0)
                report.stored += row.pop("_stored", False)
            report.failed += failures
    finally:
        if own_http:
            http.close()
    report.deduplicated = report.downloaded - report.stored
    report.pending = still_pending
    return report


def _capture(
    job: _Job,
    client: Any,
    http: httpx.Client,
    ledger: Ledger,
    settings: AttachmentsSyncSettings,
    budget: RateBudget,
) -> dict:
    """Download, store and describe one attachment; a failure comes back as a dict with a
    `reason` (never raised: one bad file must not stop the others)."""
    attachment = dict(job.attachment)
    attachment_id = attachment["id"]

    def refresh() -> str | None:
        try:
            record = client.get_content(job.content_id)
        except Exception as exc:  # noqa: BLE001 - NotFound or an API error: no new link
            logger.info("no fresh link for %s/%s: %s", job.content_id, attachment_id, exc)
            return None
        for item in record.get("attachments") or []:
            if item.get("id") == attachment_id:
                attachment.update(
                    filename=item.get("filename"),
                    content_type=item.get("contentType"),
                    size=item.get("size"),
                )
                return item.get("uri")
        return None

    uri = attachment.get("uri")
    try:
        if not uri:
            uri = refresh()
            if not uri:
                raise DownloadFailed("the content no longer lists the attachment", permanent=True)
        got = download(http, uri, attachment.get("size"), refresh, settings.fetch, budget)
    except DownloadFailed as failed:
        return _failure(job, attachment, failed.reason)
    except Exception as exc:  # noqa: BLE001 - total by contract
        return _failure(job, attachment, f"unexpected {type(exc).__name__}: {str(exc)[:200]}")
    store = ledger.store
    # Bytes an older archive stored in layout 1 are named, not written again.
    existing = next((k for k in keys.attachment_blob_keys(got.sha256) if store.exists(k)), None)
    object_key = existing or keys.attachment_blob_key(got.sha256)
    stored = False
    try:
        if existing is None:
            try:
                store.put_file(
                    object_key,
                    got.path,
                    content_type=attachment.get("content_type") or "application/octet-stream",
                )
                stored = True
            except ObjectExistsError:
                pass  # the same bytes, written by another thread or run
    finally:
        os.unlink(got.path)
    declared = attachment.get("size")
    return {
        "id": attachment_id,
        "content_id": job.content_id,
        "source_id": None,  # filled by _commit
        "filename": attachment.get("filename"),
        "content_type": attachment.get("content_type"),
        "declared_size": declared,
        "size": got.size,
        "size_matches": declared is not None and got.size == declared,
        "sha256": got.sha256,
        "object_key": object_key,
        "creation_time": job.creation_time,
        "fetched_at": datetime.now(UTC),
        "_refreshed": got.refreshed,
        "_stored": stored,
    }


def _failure(job: _Job, attachment: dict, reason: str) -> dict:
    return {
        "content_id": job.content_id,
        "id": attachment["id"],
        "filename": attachment.get("filename"),
        "content_type": attachment.get("content_type"),
        "size": attachment.get("size"),
        "reason": reason,
    }


def _commit(
    ledger: Ledger,
    stream: str,
    source_id: str,
    run_id: str,
    rows: list[dict],
    failures: list[dict],
    pending: list[dict],
    contents_seq: int,
    last: bool,
) -> None:
    """One batch in the contents ledger: the rows, the quarantined failures, and the cursor
    (the contents cursor as the head has it, plus this step's own part)."""
    now = datetime.now(UTC)
    for row in rows:
        row["source_id"] = source_id
        row["record_sha256"] = schema.attachment_record_sha256(
            content_id=row["content_id"],
            attachment_id=row["id"],
            filename=row["filename"],
            content_type=row["content_type"],
            declared_size=row["declared_size"],
            size=row["size"],
            sha256=row["sha256"],
        )
        row["archived_at"] = now
        row["run_id"] = run_id
        row["batch_id"] = ""
    table = schema.rows_to_table(
        [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
    )
    quarantine = QuarantineBuilder(
        table_name=schema.TABLE_NAME,
        source_id=source_id,
        run_id=run_id,
        batch_id="",
        quarantined_at=now,
    )
    for failure in failures:
        record = {k: v for k, v in failure.items() if k != "reason"}
        quarantine.add(record, [failure["reason"]], raw_json=json.dumps(record))
    cursor, _ = _saved(ledger, stream)
    own: dict[str, Any] = {"contents_seq": contents_seq if last else -1, "pending": pending}
    if not last:  # an interrupted run starts again from the previous mark
        own["contents_seq"] = int((cursor.get(CURSOR_KEY) or {}).get("contents_seq", -1))
    cursor[CURSOR_KEY] = own
    ledger.commit_batch(
        LEDGER,
        stream,
        {"attachments": table, "quarantine": quarantine.to_table()},
        cursor,
        run_id,
    )


def archived_attachment_table(ledger: Ledger, source_id: str) -> pa.Table | None:
    """Every committed `attachments` row of the source (tests, the check)."""
    entries = ledger.state(LEDGER, source_stream(source_id)).live_files("attachments")
    return ledger.read_table(entries) if entries else None
