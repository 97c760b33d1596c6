"""Reconciliation: does the archive hold every content id the API lists for a source, and
does the API list every content id the archive holds?

This is invariant 1 (complete) checked against the live API rather than assumed. Only ids the
API created up to the archive's high-water mark are expected: a message that arrived after the
last run is not missing, it is simply not due yet. An id a disposition removed (its retention
ended) is not missing either.

The other direction (`not_in_api`) catches an invented message appended to the archive
(docs/integrity.md, "Insider attacks"): RingCentral keeps listing a message deleted on its
channel (`remotelyDeleted: true`, the reference and the sandbox alike), so an id the archive
held before the listing began that a finished listing does not show was never on RingCentral.
A full reconciliation checks every such id; a sample only those created after the oldest
content its pages listed (everything newer was listed).

The comparison lists the API (two pages in sample mode), so it runs on its own cadence, not on
every run: `reconcile_due` says when (daily by default, and whenever the run committed changes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow.compute as pc

from pipelines.archive import keys
from pipelines.archive.checkpoint import FileEntry
from pipelines.archive.disposed_hashes import read_disposed_hashes
from pipelines.archive.ledger import Ledger, LedgerError
from pipelines.archive.versions import committed_tables, parse_api_time
from pipelines.integrity.reconcile_report import ReconcileReport
from pipelines.interrupts import raise_if_stopped
from pipelines.ringcentral import RingCentralClient
from pipelines.ringcentral.errors import PageTokenRefused
from schemas.common import iso_ms
from schemas.ids import source_stream

# How often an unchanged source is compared with the API (the check's `every_hours`).
RECONCILE_EVERY = timedelta(hours=24)


@dataclass(frozen=True)
class ReconcileDue:
    due: bool
    reason: str
    next_due: datetime | None = None  # when not due: the earliest moment it will be


def reconcile_due(
    *,
    now: datetime,
    last_reconciled: datetime | None,
    committed_this_run: bool,
    every: timedelta = RECONCILE_EVERY,
) -> ReconcileDue:
    """Whether this run compares the archive with the API.

    Due when the run committed to the source's contents ledger (its crawl or changes sweep saw
    something: the newest pages are where a lost write would show), when the last comparison
    is older than `every`, or when none is known (a new Dagster instance). `every` of zero
    compares on every run. A plain function of its inputs so the cadence is tested without
    Dagster.
    """
    if every <= timedelta(0):
        return ReconcileDue(True, "every run")
    if committed_this_run:
        return ReconcileDue(True, "this run archived changes")
    if last_reconciled is None:
        return ReconcileDue(True, "no earlier comparison known")
    next_due = last_reconciled + every
    if now >= next_due:
        return ReconcileDue(True, f"last compared at {iso_ms(last_reconciled)}")
    return ReconcileDue(False, f"skipped: next due at {iso_ms(next_due)}", next_due)


def committed_in_run(ledger: Ledger, source_id: str, run_id: str) -> bool:
    """Whether `run_id` committed the latest contents manifest of the source.

    Reads the contents ledger head only (one listing and one small JSON). A run commits a
    manifest only when its crawl or sweep found a new version or moved the cursor, so an
    idle run (one probe request, nothing committed) answers False.
    """
    head = ledger.head("contents", source_stream(source_id))
    return head is not None and head.run_id == run_id


def archived_content_ids(
    ledger: Ledger, source_id: str, *, created_since: str | None = None
) -> set[str]:
    """Ids archived for the source (as rows or in quarantine); with `created_since` (an ISO
    `...Z` time), only data files holding contents created at or after it are read."""
    ids: set[str] = set()
    stream = source_stream(source_id)
    entries = [
        entry
        for entry in ledger.committed_files("contents", stream)
        if created_since is None
        or entry.max_creation_time is None
        or entry.max_creation_time >= created_since
    ]
    for entry in entries:
        table = ledger.read_table([entry], ["id"])
        ids.update(pc.unique(table.column("id")).to_pylist())
    return ids | _quarantined_ids(ledger, stream)


def reconcile_source(
    client: RingCentralClient,
    ledger: Ledger,
    source_id: str,
    *,
    mode: str = "full",
    sample_pages: int = 2,
    per_page: int = 1000,
) -> ReconcileReport:
    """Compare API ids with archived ids; `sample` reads only the newest pages."""
    if mode not in ("full", "sample"):
        raise ValueError(f"reconcile mode must be 'full' or 'sample', not {mode!r}")
    stream = source_stream(source_id)
    # What the archive held before the listing began: only those ids must be listed.
    state = ledger.state("contents", stream)
    held_files = {entry.key: entry for entry in state.live_files("contents")}
    head = state.head
    high_water = parse_api_time(head.cursor.get("high_water_time")) if head else None
    report = ReconcileReport(source_id=source_id, mode=mode)
    report.high_water_time = head.cursor.get("high_water_time") if head else None
    due: list[tuple[str, datetime | None]] = []  # (id, creationTime) of listed contents already due
    listed: set[str] = set()  # every id the listing showed, due or not
    order = "+creationTime" if mode == "full" else "-creationTime"
    pages = client.iter_content_pages(source_id, order_by=order, per_page=per_page)
    number = 0
    while True:
        # A full listing of a large source takes minutes at the Light limit: a stop request
        # ends it between pages (the check then fails as interrupted, nothing was written).
        raise_if_stopped("between pages of the reconcile listing")
        try:
            page = next(pages)
        except StopIteration:
            break
        except PageTokenRefused as refused:
            # The listing cannot go on: report what was checked instead of failing the run.
            report.incomplete = f"listing stopped after {number} pages: {refused}"
            break
        number += 1
        for record in page.records:
            record_id = record.get("id") if isinstance(record, dict) else None
            if not isinstance(record_id, str):
                continue
            listed.add(record_id)
            created = parse_api_time(record.get("creationTime"))
            # The API shows whole seconds: a content in the high-water second may be newer
            # than the archived one with that stamp, so that second is not due yet either.
            if high_water is None or (created is not None and created >= high_water):
                report.not_due += 1
                continue
            due.append((record_id, created))
        if mode == "sample" and number >= sample_pages:
            break
    times = [created for _, created in due]
    oldest = None
    if mode == "sample" and times and None not in times:
        oldest = min(times)
    # Only files that can hold the listed contents are read, each once: a sample checks the
    # newest pages against the newest files, not against the whole archive.
    since = None if oldest is None else iso_ms(oldest)
    now_live = [
        entry
        for entry in ledger.committed_files("contents", stream)
        if since is None or entry.max_creation_time is None or entry.max_creation_time >= since
    ]
    # A sample vouches for the contents created after the oldest second it listed.
    vouched = None if oldest is None else iso_ms(oldest + timedelta(seconds=1))
    held = [
        entry
        for entry in held_files.values()
        if mode == "full"
        or (
            vouched is not None
            and (entry.max_creation_time is None or entry.max_creation_time >= vouched)
        )
    ]
    ids_of, unreadable = _ids_by_file(ledger, {e.key: e for e in [*now_live, *held]}, vouched)
    archived = {i for entry in now_live for i in ids_of.get(entry.key, ((), ()))[0]}
    archived |= _quarantined_ids(ledger, stream)
    disposed = disposed_content_ids(ledger, source_id) - archived
    report.archived_ids = len(archived)
    report.api_ids_checked = len(due)
    report.missing = [i for i, _ in due if i not in archived and i not in disposed]
    report.disposed = sum(1 for i, _ in due if i in disposed)
    if unreadable is not None:
        report.incomplete = report.incomplete or f"{unreadable} could not be read"
    if report.incomplete is None:
        candidates = {i for entry in held for i in ids_of.get(entry.key, ((), ()))[1]}
        if candidates and not listed:
            report.incomplete = (
                f"the API listed no content of the source although the archive holds "
                f"{len(candidates)}: the agent may have lost Read on it"
            )
        else:
            report.not_in_api = sorted(candidates - listed)
    return report


def _ids_by_file(
    ledger: Ledger, entries: dict[str, FileEntry], vouched: str | None
) -> tuple[dict[str, tuple[list[str], list[str]]], str | None]:
    """Per contents file: (its ids, those created at or after `vouched` (all when None)), and
    the key of a file that could not be read (a disposition deleted it meanwhile), if any."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for key, entry in entries.items():
        try:
            part = ledger.read_table([entry], ["id", "creation_time"])
        except Exception:  # noqa: BLE001 (missing local file, S3 NoSuchKey)
            return out, key
        ids = part.column("id").to_pylist()
        recent = ids
        if vouched is not None:
            times = part.column("creation_time").to_pylist()
            recent = [i for i, t in zip(ids, times, strict=True) if t and iso_ms(t) >= vouched]
        out[key] = (ids, recent)
    return out, None


def _quarantined_ids(ledger: Ledger, stream: str) -> set[str]:
    """A quarantined record is archived (with its reason), not missing."""
    ids: set[str] = set()
    for table in committed_tables(ledger, "quarantine", stream, None):
        if "raw_json" in table.column_names:
            ids.update(_ids_in_raw(table.column("raw_json").to_pylist()))
    return ids


def disposed_content_ids(ledger: Ledger, source_id: str) -> set[str]:
    """Ids of the contents rows the source's dispositions deleted (their hashes objects),
    each checked against the SHA-256 its disposition manifest names. One LIST, and two GETs
    per disposition."""
    stream = source_stream(source_id)
    ids: set[str] = set()
    for key in ledger.store.list(keys.ledger_prefix("contents", stream) + "_disposed/"):
        match = keys.DISPOSED_HASHES_NAME.match(key.rsplit("/", 1)[1])
        if match is None:
            continue
        try:
            manifest = ledger.read_manifest(
                keys.manifest_key("contents", stream, int(match.group(1)))
            )
        except (LedgerError, OSError, ValueError, KeyError):
            continue  # no disposition committed it (a crash before the manifest): not disposed
        if not manifest.is_disposition or manifest.disposal.hashes.key != key:
            continue
        try:
            parts = read_disposed_hashes(ledger.store, manifest.disposal.hashes)
        except ValueError:
            continue  # verify reports a hashes object that differs from its manifest
        for part in parts.values():
            ids.update(part.column("id").to_pylist())
    return ids


def _ids_in_raw(raw_values: list[str | None]) -> set[str]:
    ids: set[str] = set()
    for raw in raw_values:
        try:
            value = json.loads(raw) if raw else None
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            ids.add(value["id"])
    return ids
