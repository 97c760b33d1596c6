"""Resolve the agents (RingCentral extensions) behind creatorId and agent identities' userIds.

An auditor asks "every message agent X sent": the content only carries an extension id, so the
archive keeps the extension's name, number and e-mail as versions. Extensions get deleted when
people leave; a 404 is archived as a `not_found` row, not an error, so the gap is explicit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc

from pipelines.archive.ledger import Ledger
from pipelines.ringcentral import RingCentralClient
from pipelines.ringcentral.errors import NotFound
from pipelines.sync.versions import ArchivedVersions, committed_tables, is_older_than
from schemas.agents import normalise_extensions
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


def referenced_extension_ids(ledger: Ledger, source_id: str) -> set[str]:
    """creatorId of every committed content and userIds of every agent identity of the source."""
    stream = source_stream(source_id)
    ids: set[str] = set()
    for table in committed_tables(ledger, "contents", stream, ["creator_id"]):
        ids.update(v for v in pc.unique(table.column("creator_id")).to_pylist() if v)
    for table in committed_tables(ledger, "identities", stream, ["user_ids"]):
        flat = pc.list_flatten(table.column("user_ids"))
        ids.update(v for v in pc.unique(flat).to_pylist() if v)
    return ids


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
    referenced = referenced_extension_ids(ledger, source_id)
    report.referenced = len(referenced)
    archived = ArchivedVersions.load(ledger, TABLE, stream)
    head = ledger.head(TABLE, stream)
    cursor = dict(head.cursor) if head is not None else {}
    stale = is_older_than(cursor.get("last_refresh"), settings.refresh_age)
    to_fetch = sorted(referenced if stale else referenced - archived.ids)
    if not to_fetch:
        return report

    found: list[dict] = []
    for extension_id in to_fetch:
        try:
            found.append(client.get_extension(extension_id))
        except NotFound:
            report.not_found.append(extension_id)
    report.fetched = len(to_fetch)
    now = datetime.now(UTC)
    # The ledger drops versions it already holds, so an unchanged extension writes nothing.
    normalised = normalise_extensions(
        found, run_id=run_id, batch_id="", archived_at=now, not_found_ids=report.not_found
    )
    if stale:
        cursor["last_refresh"] = now.isoformat(timespec="seconds")
    changed = {
        (i, d)
        for i, d in zip(
            normalised.table.column("extension_id").to_pylist(),
            normalised.table.column("record_sha256").to_pylist(),
            strict=True,
        )
    } - archived.versions
    if not changed and not stale and normalised.quarantine.num_rows == 0:
        return report
    manifest = ledger.commit_batch(
        TABLE,
        stream,
        {"agents": normalised.table, "quarantine": normalised.quarantine},
        cursor=cursor,
        run_id=run_id,
    )
    report.new_versions = len(changed)
    report.files = len(manifest.files)
    return report
