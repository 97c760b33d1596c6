"""Reconciliation: does the archive hold every content id the API lists for a source?

This is invariant 1 (complete) checked against the live API rather than assumed. Only ids the
API created up to the archive's high-water mark are expected: a message that arrived after the
last run is not missing, it is simply not due yet.

The comparison lists the API (two pages in sample mode), so it runs on its own cadence, not on
every run: `reconcile_due` says when (daily by default, and whenever the run committed changes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow.compute as pc

from pipelines.archive.ledger import Ledger
from pipelines.ringcentral import RingCentralClient
from pipelines.ringcentral.errors import PageTokenRefused
from pipelines.sync.versions import committed_tables, parse_api_time
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


@dataclass
class ReconcileReport:
    source_id: str
    mode: str
    api_ids_checked: int = 0
    # Archived ids read for the comparison: in sample mode, only those of the files that can
    # hold the sampled (newest) contents.
    archived_ids: int = 0
    missing: list[str] = field(default_factory=list)
    not_due: int = 0
    high_water_time: str | None = None
    incomplete: str | None = None

    @property
    def ok(self) -> bool:
        """Proven complete: nothing missing among the ids checked, and the listing finished."""
        return not self.missing and self.incomplete is None


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
    for table in committed_tables(ledger, "quarantine", source_stream(source_id), None):
        # A quarantined record is archived (with its reason), not missing.
        if "raw_json" in table.column_names:
            ids.update(_ids_in_raw(table.column("raw_json").to_pylist()))
    return ids


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
    head = ledger.head("contents", source_stream(source_id))
    high_water = parse_api_time(head.cursor.get("high_water_time")) if head else None
    report = ReconcileReport(source_id=source_id, mode=mode)
    report.high_water_time = head.cursor.get("high_water_time") if head else None
    due: list[tuple[str, datetime | None]] = []  # (id, creationTime) of listed contents already due
    order = "+creationTime" if mode == "full" else "-creationTime"
    pages = client.iter_content_pages(source_id, order_by=order, per_page=per_page)
    number = 0
    while True:
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
            created = parse_api_time(record.get("creationTime"))
            # The API shows whole seconds: a content in the high-water second may be newer
            # than the archived one with that stamp, so that second is not due yet either.
            if high_water is None or (created is not None and created >= high_water):
                report.not_due += 1
                continue
            due.append((record_id, created))
        if mode == "sample" and number >= sample_pages:
            break
    # Only files that can hold the listed contents are read: a sample checks the newest pages
    # against the newest files, not against the whole archive.
    times = [created for _, created in due]
    oldest = None
    if mode == "sample" and times and None not in times:
        oldest = iso_ms(min(times))
    archived = archived_content_ids(ledger, source_id, created_since=oldest)
    report.archived_ids = len(archived)
    report.api_ids_checked = len(due)
    report.missing = [record_id for record_id, _ in due if record_id not in archived]
    return report


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
