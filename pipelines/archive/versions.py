"""Which record versions the archive already holds, so a re-read never writes one twice."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.archive.exact_keys import DIGEST_WIDTH, ID_WIDTH, KeySet, key_of
from pipelines.archive.ledger import Ledger
from schemas.common import parse_api_time
from schemas.tables import table_schema

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
    """The live files of `table` in one stream's ledger, file by file, reading only
    `columns`; with `after_seq`, only files that batches after that sequence added (what the
    caller has not seen yet: new work, not history)."""
    if table == "quarantine" or after_seq < 0:
        entries = ledger.committed_files(table, stream)
    else:
        entries = ledger.files_after(table, stream, after_seq)
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


class ArchivedVersions:
    """The versions committed for one stream (by record hash), their ids, and the hashes of
    quarantined records.

    Loaded from the committed files (two columns only), so it is exactly what the ledger
    committed: a crashed, uncommitted batch is not in it and gets written again. A version is
    keyed by its record_sha256 alone: the hash covers the whole record, id included, so one
    hash is one version of one id. Held compactly (~100 bytes a version, see exact_keys), so a
    channel with a million versions costs ~100 MB, not ~250 MB.
    """

    def __init__(self, table: str) -> None:
        self.digests = KeySet(DIGEST_WIDTH)
        self.ids = KeySet(ID_WIDTH)
        self.quarantined: set[str] = set()
        # A served record's version hash (schemas.version_identity): transport-only values
        # such as signed attachment links are left out, so a re-signed link is no new version.
        self.version_sha256 = table_schema(table).version_identity.sha256

    @classmethod
    def load(cls, ledger: Ledger, table: str, stream: str) -> ArchivedVersions:
        """What it reads: the stream's version index (checkpoint index + the tail's files) and,
        for a stream archived before version identities, its alias object (one per stream,
        pipelines/archive/version_aliases.py), which maps rows hashed as served to their
        version hash."""
        archived = cls(table)
        for part in ledger.version_index(table, stream):
            flagged = part.column("quarantined")
            versions = part.filter(pc.invert(flagged))
            archived.ids.extend_arrow(versions.column("id"))
            archived.digests.extend_arrow(versions.column("record_sha256"))
            archived.quarantined.update(part.filter(flagged).column("record_sha256").to_pylist())
        aliases = ledger.version_aliases(table, stream)
        if aliases is not None and aliases.num_rows:
            archived.digests.extend_arrow(aliases.column("version_sha256"))
        return archived

    @classmethod
    def load_all_streams(cls, ledger: Ledger, table: str) -> ArchivedVersions:
        """Versions committed in every stream of `table` (for tables shared across sources)."""
        merged = cls(table)
        for stream in ledger.streams(table):
            one = cls.load(ledger, table, stream)
            merged.digests.update(one.digests)
            merged.ids.update(one.ids)
            merged.quarantined |= one.quarantined
        return merged

    def has_versions(self, digests: list[str]) -> list[bool]:
        """For each record_sha256, whether that version is committed (or taken this run)."""
        return self.digests.contains([key_of(d) for d in digests])

    def unknown_ids(self, ids: Iterable[str]) -> set[str]:
        """The ids no committed (or taken) version carries."""
        wanted = sorted(set(ids))
        return {
            i
            for i, known in zip(wanted, self.ids.contains([key_of(i) for i in wanted]), strict=True)
            if not known
        }

    def take_unseen(self, records: list) -> Unseen:
        """Records whose version is new (with their record_sha256), and how many of them have
        an id never seen before.

        Marks them seen, so overlapping pages within one run are written once. The digests are
        handed on so the normaliser does not hash each record a second time. The archive is
        looked up once for the whole page; `taken` catches a version repeated within it.
        """
        unseen = Unseen([], [], 0)
        digests = [self.version_sha256(record) for record in records]
        record_ids = [record.get("id") if isinstance(record, dict) else None for record in records]
        archived = self.has_versions(digests)
        known_ids = self.ids.contains(
            [key_of(i) if isinstance(i, str) else b"" for i in record_ids]
        )
        taken: set[str] = set()
        new_ids: set[str] = set()
        for record, digest, record_id, is_archived, id_known in zip(
            records, digests, record_ids, archived, known_ids, strict=True
        ):
            if digest in self.quarantined:
                continue
            if isinstance(record_id, str):
                if is_archived or digest in taken:
                    continue
                taken.add(digest)
                if not id_known:
                    new_ids.add(record_id)
            else:
                # Malformed: it will be quarantined; remember it so a replay does not repeat it.
                self.quarantined.add(digest)
            unseen.records.append(record)
            unseen.digests.append(digest)
        self.digests.add(map(key_of, taken))
        self.ids.add(map(key_of, new_ids))
        unseen.new_ids = len(new_ids)
        return unseen
