"""Capture the attachments of one source's archived contents (the `attachments` asset).

What a run reads: the contents files the source's contents ledger committed after the seq in
this step's cursor (`cursor["attachments"]["contents_seq"]`), the `id`, `creation_time` and
`attachments` columns of their rows, plus the downloads still pending from earlier runs. When
that names any attachment, it also reads what is already captured: the `id`, `declared_size`,
`size`, `sha256`, `object_key`, `fetched_at` and `record_sha256` columns of the stream's live
`attachments` files, one file at a time, keeping only the rows of the attachment ids this run
names (`captured_attachments`). So a run holds only what its own new contents name, and reads
one GET per live `attachments` file, never a replay of contents files or manifests. (Those
files are one per batch that committed new rows and are not compacted yet: their number grows
with the runs that captured new files, not with the runs that only saw captured ones again.)

An attachment already captured for the source (a committed row names the same attachment id
with the same declared size) is never downloaded again: not when a newer version of its
message (an edit, a status change, a full refresh) lists it again with a freshly signed link,
and not when that link is dead. Its message gets a row naming the bytes already stored when it
has none yet. Every other file is downloaded once per run (bounded threads, own rate budget,
retries, a fresh link from `GET content/{id}` when the listed one is expired or refused),
stored once at `attachment_files/sha256=<hash>`, and named by a row of the `attachments` table
committed in the SAME contents ledger, so `verify` covers the bytes. A download that fails for
good is quarantined with its reason and kept in the cursor's `pending` list, so later runs try
it again (one captured since is dropped from the list).

A stop request (pipelines/interrupts.py) is honoured between downloads: the files in flight
finish, no other starts, and the batch they belong to is not committed (its bytes stay stored;
the next run names them without writing them again).
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
import pyarrow.compute as pc

from pipelines.archive import keys
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import ObjectExistsError
from pipelines.attachments.fetch import (
    DownloadFailed,
    FetchSettings,
    RateBudget,
    download,
)
from pipelines.interrupts import raise_if_stopped, stop_requested
from pipelines.progress import PROGRESS
from pipelines.ringcentral.errors import NotFound
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
    attachments_seen: int = 0  # (content, attachment) pairs named by the new contents + pending
    already_captured: int = 0  # of those, captured by an earlier run: not downloaded again
    downloaded: int = 0  # files downloaded (each distinct attachment once per run)
    stored: int = 0  # new objects written
    deduplicated: int = 0  # downloaded bytes already in the archive (same bytes, other id)
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
    attachment: dict  # as the contents table lists it (id, content_type, filename, uri, size)
    creation_time: Any
    pending: bool = False  # a failed download of an earlier run: no listing, no link


# What a run reads of the stream's committed `attachments` rows (captured_attachments).
CAPTURED_COLUMNS = [
    "id",
    "declared_size",
    "size",
    "sha256",
    "object_key",
    "fetched_at",
    "record_sha256",
]


class CapturedAttachments:
    """The committed `attachments` rows of the stream for the attachment ids one run names:
    which bytes the archive already holds for an (attachment id, declared size)."""

    def __init__(self, rows: list[dict]) -> None:
        self._by_id: dict[str, list[dict]] = {}
        self.record_hashes: set[str] = set()
        for row in rows:
            self._by_id.setdefault(row["id"], []).append(row)
            self.record_hashes.add(row["record_sha256"])

    def match(
        self, attachment_id: str, declared_size: int | None, *, any_size: bool = False
    ) -> dict | None:
        """A committed row of that attachment with that declared size (`any_size`: any row of
        the attachment, for a pending download that did not keep its size), else None."""
        for row in self._by_id.get(attachment_id, ()):
            if any_size or row["declared_size"] == declared_size:
                return row
        return None


def captured_attachments(
    ledger: Ledger, stream: str, attachment_ids: set[str]
) -> CapturedAttachments:
    """What the stream's committed `attachments` rows say of `attachment_ids`. Reads the
    CAPTURED_COLUMNS of every live `attachments` file of the stream, one file at a time, and
    keeps only the rows of those ids: memory follows the run's own attachments."""
    kept: list[dict] = []
    if not attachment_ids:
        return CapturedAttachments(kept)
    wanted = pa.array(sorted(attachment_ids), pa.string())
    for entry in ledger.state(LEDGER, stream).live_files("attachments"):
        part = ledger.read_table([entry], CAPTURED_COLUMNS)
        part = part.filter(pc.is_in(part.column("id"), value_set=wanted))
        if part.num_rows:
            kept += part.to_pylist()
    return CapturedAttachments(kept)


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
        # Only the rows that list a file become Python objects: converting every row (most
        # messages have none) cost more than the rest of an attachment-free step.
        listing = pc.fill_null(pc.greater(pc.list_value_length(table["attachments"]), 0), False)
        table = table.filter(listing)
        for content_id, created, listed in zip(
            table.column("id").to_pylist(),
            table.column("creation_time").to_pylist(),
            table.column("attachments").to_pylist(),
            strict=True,
        ):
            for item in listed or []:
                if item.get("id"):  # files are in commit order: the newest listing wins
                    jobs[(content_id, item["id"])] = _Job(content_id, item, created)
        del table
    for waiting in pending:  # retried with a link the API gives now
        key = (waiting["content_id"], waiting["id"])
        if key not in jobs:
            listed = {"id": waiting["id"], "uri": None, "size": waiting.get("size")}
            jobs[key] = _Job(waiting["content_id"], listed, None, pending=True)
    report.attachments_seen = len(jobs)

    captured = captured_attachments(ledger, stream, {job.attachment["id"] for job in jobs.values()})
    known_rows: list[dict] = []  # rows naming bytes an earlier run captured (no download)
    groups: dict[tuple[str, int | None], list[_Job]] = {}  # one download per distinct file
    for job in jobs.values():
        attachment = job.attachment
        # A pending download kept from before its size was recorded matches any captured size.
        unsized = job.pending and attachment.get("size") is None
        hit = captured.match(attachment["id"], attachment.get("size"), any_size=unsized)
        if hit is not None:
            report.already_captured += 1
            if job.pending:
                continue  # captured since it failed: dropped from the pending list
            row = _known_row(job, hit)
            if row["record_sha256"] not in captured.record_hashes:
                known_rows.append(row)  # e.g. another content listing the same file
            continue
        groups.setdefault((attachment["id"], attachment.get("size")), []).append(job)

    budget = RateBudget(settings.downloads_per_second)
    # No bearer token: links are signed. Opened only when there is a file to fetch (a client
    # loads the CA bundle, ~20 ms, which every attachment-free step paid for nothing).
    own_http = http is None and bool(groups)
    if own_http:
        http = httpx.Client(follow_redirects=True)
    still_pending: list[dict] = []
    try:
        ordered = list(groups.values())
        starts = list(range(0, len(ordered), settings.batch_files)) or [0]
        for start in starts:
            raise_if_stopped("between attachment batches")
            chunk = ordered[start : start + settings.batch_files]
            with ThreadPoolExecutor(settings.threads, thread_name_prefix="attachment") as pool:
                outcomes = list(
                    pool.map(
                        lambda group: _capture_unless_stopped(
                            group[0], client, http, ledger, settings, budget
                        ),
                        chunk,
                    )
                )
            raise_if_stopped("between attachment downloads")
            last = start == starts[-1]
            rows: list[dict] = known_rows if start == 0 else []
            failures: list[dict] = []
            for group, outcome in zip(chunk, outcomes, strict=True):
                if "reason" in outcome:
                    failures += [_failure(job, outcome) for job in group]
                    continue
                report.downloaded += 1
                report.bytes_downloaded += outcome["size"]
                report.size_mismatches += not outcome["size_matches"]
                report.refreshed_links += outcome.pop("_refreshed", 0)
                report.stored += outcome.pop("_stored", False)
                rows.append(outcome)
                rows += [_row_for(job, outcome) for job in group[1:]]
            still_pending += [
                {k: f[k] for k in ("content_id", "id", "size", "reason")} for f in failures
            ]
            _commit(
                ledger, stream, source_id, run_id, rows, failures, still_pending, head_seq, last
            )
            report.batches += 1
            report.failed += failures
    finally:
        if own_http:
            http.close()
    report.deduplicated = report.downloaded - report.stored
    report.pending = still_pending
    return report


def _known_row(job: _Job, hit: dict) -> dict:
    """The row of a (content, attachment) whose bytes an earlier run captured: the content's
    listing (name, type, declared size) and the captured bytes (size, hash, object)."""
    attachment = job.attachment
    declared = attachment.get("size")
    row = {
        "id": attachment["id"],
        "content_id": job.content_id,
        "source_id": None,  # filled by _commit
        "filename": attachment.get("filename"),
        "content_type": attachment.get("content_type"),
        "declared_size": declared,
        "size": hit["size"],
        "size_matches": declared is not None and hit["size"] == declared,
        "sha256": hit["sha256"],
        "object_key": hit["object_key"],
        "creation_time": job.creation_time,
        "fetched_at": hit["fetched_at"],
    }
    row["record_sha256"] = _record_sha256(row)
    return row


def _row_for(job: _Job, downloaded: dict) -> dict:
    """The row of another content that lists the file just downloaded (same id and size)."""
    attachment = job.attachment
    return {
        **downloaded,
        "content_id": job.content_id,
        "filename": attachment.get("filename", downloaded["filename"]),
        "content_type": attachment.get("content_type", downloaded["content_type"]),
        "creation_time": job.creation_time,
    }


def _record_sha256(row: dict) -> str:
    return schema.attachment_record_sha256(
        content_id=row["content_id"],
        attachment_id=row["id"],
        filename=row["filename"],
        content_type=row["content_type"],
        declared_size=row["declared_size"],
        size=row["size"],
        sha256=row["sha256"],
    )


def _capture_unless_stopped(*args: Any) -> dict | None:
    """`_capture`, or None once a stop was requested (the batch is then not committed)."""
    if stop_requested():
        return None
    outcome = _capture(*args)
    if "reason" not in outcome:
        PROGRESS.add(files=1, bytes=outcome["size"])
    return outcome


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
        """A fresh link from the content as the API serves it now; None when the content or
        the attachment is gone (then the failure is permanent), DownloadFailed when the API
        could not answer (the download is retried by a later run)."""
        try:
            record = client.get_content(job.content_id)
        except NotFound:
            logger.info("no fresh link for %s/%s: content gone", job.content_id, attachment_id)
            return None
        except Exception as exc:  # noqa: BLE001 - an API error: no link now, try again later
            raise DownloadFailed(
                f"no fresh link: {type(exc).__name__}: {str(exc)[:160]}", permanent=False
            ) from None
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
        return {**attachment, "reason": failed.reason}
    except Exception as exc:  # noqa: BLE001 - total by contract
        return {**attachment, "reason": f"unexpected {type(exc).__name__}: {str(exc)[:200]}"}
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


def _failure(job: _Job, outcome: dict) -> dict:
    """A failed download as quarantined for one (content, attachment): what was listed (the
    refreshed name, type and size when the API gave them) and why; never the link."""
    return {
        "content_id": job.content_id,
        "id": outcome["id"],
        "filename": outcome.get("filename"),
        "content_type": outcome.get("content_type"),
        "size": outcome.get("size"),
        "reason": outcome["reason"],
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
        row["record_sha256"] = _record_sha256(row)
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
