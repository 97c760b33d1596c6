"""What the archive's writers and checks ask of a witness, as a protocol.

Why here: the ledger, the chained logs, the webhook receiver and the hold audit all tell a
witness what they wrote or read back what it saw, but the witness itself lives a layer up
(pipelines/integrity/witness.py, `Witness`, which implements these structurally). Typing them
with these protocols keeps that order and says exactly which calls a witness must answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class LogWitness(Protocol):
    """A witness of the archive's chained logs (access trail, review decisions, hold journal)
    and webhook events: one entry per record, its key and SHA-256."""

    def describe(self) -> str:
        """Where the witness is, for messages."""
        ...

    def record_log(self, key: str, sha256: str, at: str | None) -> None:
        """Witness one record (idempotent for the same hash; another hash for the same key
        raises, since a witness never changes an entry)."""
        ...

    def log_entries(self, prefix: str) -> dict[str, str]:
        """record key -> witnessed SHA-256, for every record of the log at `prefix`."""
        ...

    def logged_sha256(self, key: str) -> str | None:
        """The SHA-256 witnessed for the record at `key` (None: never witnessed)."""
        ...

    def started_at(self) -> datetime | None:
        """When the witness received its first entry (None: it holds none)."""
        ...


class ArchiveWitness(LogWitness, Protocol):
    """A witness of the ledger as well: told of every manifest and checkpoint after its put
    succeeded (`kind` "manifest" or "checkpoint", not the manifest's own kind)."""

    def record(
        self,
        table: str,
        stream: str,
        seq: int,
        sha256: str,
        kind: str = "manifest",
        *,
        committed_at: str | None = None,
    ) -> object:
        """Witness one commit point (idempotent for the same hash; another hash at the same
        seq raises)."""
        ...
