"""Which record versions the archive already holds, so a re-read never writes one twice."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from pipelines.archive.ledger import Ledger
from schemas.common import parse_api_time, record_sha256

__all__ = [
    "ArchivedVersions",
    "Unseen",
    "committed_tables",
    "head_seq",
    "is_older_than",
    "parse_api_time",
    "saved_cursor",
]


def is_older_than(mark: str | None, age: timedelta) -> bool:
    """True when a cursor's ISO time mark is missing or older than `age` (time to refresh)."""
    moment = parse_api_time(mark) if mark else None
    return moment is None or datetime.now(UTC) - moment > age


def committed_tables(
    ledger: Ledger,
    table: str,
    stream: str,
    columns: list[str] | None,
    *,
    after_seq: int = -1,
) -> Iterator[pa.Table]:
    """The committed files of `table` in one stream's ledger, file by file, reading only
    `columns`; with `after_seq`, only files of manifests committed after that sequence."""
    if table == "quarantine" or after_seq < 0:
        entries = ledger.committed_files(table, stream)
    else:
        entries = [
            entry
            for manifest in ledger.manifests(table, stream)
            if manifest.seq > after_seq
            for entry in manifest.files
            if entry.table == table
        ]
    for entry in entries:
        yield ledger.read_table([entry], columns)


def saved_cursor(ledger: Ledger, table: str, stream: str) -> dict:
    """A copy of the cursor of the stream's latest manifest ({} before the first commit)."""
    head = ledger.head(table, stream)
    return dict(head.cursor) if head is not None else {}


def head_seq(ledger: Ledger, table: str, stream: str) -> int:
    """Sequence of the latest committed manifest of a stream (-1 when none)."""
    head = ledger.head(table, stream)
    return -1 if head is None else head.seq


@dataclass
class Unseen:
    """What `ArchivedVersions.take_unseen` let through."""

    records: list
    digests: list[str]  # record_sha256 of each record
    new_ids: int


@dataclass
class ArchivedVersions:
    """(id, record hash) pairs committed for one stream, plus quarantined record hashes.

    Loaded from the committed files (two columns only), so it is exactly what the ledger
    committed: a crashed, uncommitted batch is not in it and gets written again.
    """

    versions: set[tuple[str, str]] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    quarantined: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, ledger: Ledger, table: str, stream: str) -> ArchivedVersions:
        versions = set(ledger.archived_versions(table, stream))
        quarantined = set(ledger.quarantined_hashes(table, stream))
        return cls(versions=versions, ids={v[0] for v in versions}, quarantined=quarantined)

    @classmethod
    def load_all_streams(cls, ledger: Ledger, table: str) -> ArchivedVersions:
        """Versions committed in every stream of `table` (for tables shared across sources)."""
        merged = cls()
        for stream in ledger.streams(table):
            one = cls.load(ledger, table, stream)
            merged.versions |= one.versions
            merged.ids |= one.ids
            merged.quarantined |= one.quarantined
        return merged

    def take_unseen(self, records: list) -> Unseen:
        """Records whose version is new (with their record_sha256), and how many of them have
        an id never seen before.

        Marks them seen, so overlapping pages within one run are written once. The digests are
        handed on so the normaliser does not hash each record a second time.
        """
        unseen = Unseen([], [], 0)
        for record in records:
            digest = record_sha256(record)
            record_id = record.get("id") if isinstance(record, dict) else None
            if digest in self.quarantined:
                continue
            if isinstance(record_id, str) and (record_id, digest) in self.versions:
                continue
            unseen.records.append(record)
            unseen.digests.append(digest)
            if isinstance(record_id, str):
                if record_id not in self.ids:
                    unseen.new_ids += 1
                    self.ids.add(record_id)
                self.versions.add((record_id, digest))
            else:
                # Malformed: it will be quarantined; remember it so a replay does not repeat it.
                self.quarantined.add(digest)
        return unseen
