"""Resolve the agents (RingCentral extensions) behind creatorId and agent identities' userIds.

An auditor asks "every message agent X sent": the content only carries an extension id, so the
archive keeps the extension's name, number and e-mail as versions. Extensions get deleted when
people leave; a 404 is archived as a `not_found` row, not an error, so the gap is explicit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.archive.ledger import Ledger
from pipelines.archive.versions import ArchivedVersions, head_seq, is_older_than, saved_cursor
from pipelines.ringcentral import RingCentralClient
from pipelines.sync.cursors import AgentsCursor
from pipelines.sync.referenced import fetch_each, referenced_ids
from schemas.agents import normalise_extensions
from schemas.common import iso_ms
from schemas.ids import source_stream

TABLE = "agents"


@dataclass
class AgentsSyncSettings:
    # Names and e-mails change rarely; re-read every known extension this often.
    refresh_age: timedelta = timedelta(days=7)


@dataclass
class AgentsSyncReport:
    source_id: str
    referenced: int = 0
    fetched: int = 0
    new_versions: int = 0
    not_found: list[str] = field(default_factory=list)
    files: int = 0


def referenced_extension_ids(
    ledger: Ledger, source_id: str, after: dict[str, int] | None = None
) -> set[str]:
    """creatorId of the source's committed contents and userIds of its agent identities;
    with `after` ({"contents": seq, "identities": seq}) only batches committed since."""
    stream = source_stream(source_id)
    after = after or {}
    return referenced_ids(
        ledger, "contents", stream, ["creator_id"], after_seq=after.get("contents", -1)
    ) | referenced_ids(
        ledger, "identities", stream, ["user_ids"], after_seq=after.get("identities", -1)
    )


def sync_agents(
    client: RingCentralClient,
    ledger: Ledger,
    source_id: str,
    *,
    run_id: str,
    settings: AgentsSyncSettings | None = None,
) -> AgentsSyncReport:
    settings = settings or AgentsSyncSettings()
    stream = source_stream(source_id)
    report = AgentsSyncReport(source_id=source_id)
    saved = AgentsCursor.from_dict(saved_cursor(ledger, TABLE, stream))
    cursor = saved if saved.last_refresh else saved.but(last_refresh=datetime.now(UTC).isoformat())
    stale = is_older_than(cursor.last_refresh, settings.refresh_age)
    # A refresh re-reads every referenced extension; otherwise only batches since the last run.
    seen_up_to = {} if stale else cursor.read_up_to
    referenced = referenced_extension_ids(ledger, source_id, after=seen_up_to)
    cursor = cursor.but(
        read_up_to={t: head_seq(ledger, t, stream) for t in ("contents", "identities")}
    )
    report.referenced = len(referenced)
    # Agents are shared by every source: one already archived by another source's run is
    # known here too, so ten sources do not fetch the same extension ten times.
    archived = ArchivedVersions.load_all_streams(ledger, TABLE)
    to_fetch = sorted(referenced if stale else archived.unknown_ids(referenced))
    if not to_fetch:
        if cursor != saved:
            ledger.commit_batch(TABLE, stream, {}, cursor=cursor.to_dict(), run_id=run_id)
        return report

    found, report.not_found = fetch_each(to_fetch, client.get_extension)
    report.fetched = len(to_fetch)
    now = datetime.now(UTC)
    # Only versions no stream holds yet are written: an unchanged extension writes nothing.
    normalised = normalise_extensions(
        found, run_id=run_id, batch_id="", archived_at=now, not_found_ids=report.not_found
    )
    if stale:
        cursor = cursor.but(last_refresh=iso_ms(now))
    archived_rows = archived.has_versions(normalised.table.column("record_sha256").to_pylist())
    new_rows = normalised.table.filter(pc.invert(pa.array(archived_rows, pa.bool_())))
    manifest = ledger.commit_batch(
        TABLE,
        stream,
        {"agents": new_rows, "quarantine": normalised.quarantine},
        cursor=cursor.to_dict(),
        run_id=run_id,
    )
    report.new_versions = new_rows.num_rows
    report.files = len(manifest.files)
    return report
