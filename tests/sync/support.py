"""Shared pieces of the sync and Dagster tests: a client for a sandbox, what a ledger holds."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.archive.ledger import Ledger
from pipelines.ringcentral import ClientSettings, RingCentralClient
from schemas.ids import source_stream


def client_for(sandbox) -> RingCentralClient:
    return RingCentralClient(ClientSettings.from_env(sandbox.env))


@dataclass
class Archived:
    """What the ledger committed for a stream, read row by row (independent of the compact
    index the sync itself uses)."""

    versions: set[tuple[str, str]]

    @property
    def ids(self) -> set[str]:
        return {record_id for record_id, _ in self.versions}


def archived(ledger: Ledger, source_id: str, table: str = "contents") -> Archived:
    return Archived(ledger.archived_versions(table, source_stream(source_id)))
