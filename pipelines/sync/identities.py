"""Resolve the identities (authors and replied-to authors) behind one source's contents.

Identities change (names, avatars, phone numbers), and an audit must show who a person was
when they wrote, so each identity is kept as versions: a new row only when its record changed.
Few unknown ids are fetched one by one; many (an initial load) are read with the bulk list by
source, which costs one request per 1000 identities instead of one per identity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipelines.archive.ledger import Ledger
from pipelines.archive.versions import ArchivedVersions, head_seq, is_older_than, saved_cursor
from pipelines.ringcentral import RingCentralClient
from pipelines.sync.cursors import IdentitiesCursor
from pipelines.sync.referenced import fetch_each, referenced_ids
from schemas.common import Normalised, concat_or_empty, iso_ms
from schemas.identities import ARROW_SCHEMA as IDENTITIES_SCHEMA
from schemas.identities import normalise_identities
from schemas.ids import source_stream
from schemas.quarantine import ARROW_SCHEMA as QUARANTINE_SCHEMA

log = logging.getLogger(__name__)

TABLE = "identities"


@dataclass
class IdentitiesSyncSettings:
    # Above this many unknown ids, one bulk listing is cheaper than GETs by id.
    bulk_threshold: int = 50
    # A bulk listing also re-reads known identities, catching renames; do one at least this often.
    refresh_age: timedelta = timedelta(days=1)
    per_page: int = 1000


@dataclass
class IdentitiesSyncReport:
    source_id: str
    referenced: int = 0
    unknown_before: int = 0
    new_versions: int = 0
    not_found: list[str] = field(default_factory=list)
    quarantined: int = 0
    mode: str = "none"
    files: int = 0


def referenced_identity_ids(ledger: Ledger, source_id: str, after_seq: int = -1) -> set[str]:
    """Author and in-reply-to identity ids of the source's committed contents (those of
    contents batches after `after_seq` only, so a run reads what is new, not the archive)."""
    columns = ["author_identity_id", "in_reply_to_author_identity_id"]
    return referenced_ids(
        ledger, "contents", source_stream(source_id), columns, after_seq=after_seq
    )


def sync_identities(
    client: RingCentralClient,
    ledger: Ledger,
    source_id: str,
    *,
    run_id: str,
    settings: IdentitiesSyncSettings | None = None,
) -> IdentitiesSyncReport:
    settings = settings or IdentitiesSyncSettings()
    stream = source_stream(source_id)
    report = IdentitiesSyncReport(source_id=source_id)
    saved = IdentitiesCursor.from_dict(saved_cursor(ledger, TABLE, stream))
    referenced = referenced_identity_ids(ledger, source_id, after_seq=saved.contents_seq)
    cursor = saved.but(contents_seq=head_seq(ledger, "contents", stream))
    archived = ArchivedVersions.load(ledger, TABLE, stream)
    # Ids the API answered 404 for are remembered, so a deleted identity costs one request a
    # refresh period, not one every run.
    known_missing = set(cursor.not_found)
    unknown_before = archived.unknown_ids(referenced)
    unknown = sorted(unknown_before - known_missing)
    report.referenced, report.unknown_before = len(referenced), len(unknown)

    stale = is_older_than(cursor.last_bulk_refresh, settings.refresh_age)
    archived_at = datetime.now(UTC)
    parts: list[Normalised] = []

    def take(records: list) -> None:
        """New versions become Arrow as they arrive: 20,000 identities held as dicts until
        the end of a bulk listing cost ~170 MB."""
        fresh = archived.take_unseen(records).records
        if fresh:
            parts.append(
                normalise_identities(
                    fresh, source_id=source_id, run_id=run_id, batch_id="", archived_at=archived_at
                )
            )

    if len(unknown) > settings.bulk_threshold or (stale and (referenced or len(archived.ids))):
        report.mode = "bulk"
        listed: set = set()
        for page in client.iter_identity_pages(source_id=source_id, per_page=settings.per_page):
            listed.update(r.get("id") for r in page.records if isinstance(r, dict))
            take(page.records)
        cursor = cursor.but(last_bulk_refresh=iso_ms(datetime.now(UTC)))
        known_missing = set()
        missing = [i for i in sorted(unknown_before) if i not in listed]
    else:
        missing = unknown
        report.mode = "by_id" if unknown else "none"
    # Ids the list did not return (other sources' agents, deleted identities): ask one by one.
    records, report.not_found = fetch_each(missing, client.get_identity)
    take(records)
    if report.not_found or cursor.not_found:
        cursor = cursor.but(not_found=tuple(sorted(known_missing | set(report.not_found))))

    if not parts and cursor == saved:
        return report
    normalised = Normalised(
        table=concat_or_empty([part.table for part in parts], IDENTITIES_SCHEMA),
        quarantine=concat_or_empty([part.quarantine for part in parts], QUARANTINE_SCHEMA),
    )
    manifest = ledger.commit_batch(
        TABLE,
        stream,
        {"identities": normalised.table, "quarantine": normalised.quarantine},
        cursor=cursor.to_dict(),
        run_id=run_id,
    )
    report.new_versions = normalised.table.num_rows
    report.quarantined = normalised.quarantine.num_rows
    report.files = len(manifest.files)
    if report.not_found:
        log.info("source %s: %d identities not found", source_id, len(report.not_found))
    return report
