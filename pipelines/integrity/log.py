"""The Merkle log of one source's record versions, read from the archive.

Leaves, in commit order: the `record_sha256` (32 raw bytes) of every row of every `contents`
file the source's batch manifests committed, by manifest seq, files in manifest order, rows in
file order (for a file a disposition deleted, the record hashes it kept). Compaction and
disposition manifests add no leaves (their output holds the same rows as their
inputs, which stay in the archive), so compacting or checkpointing never changes the tree, and
each new batch only appends: the tree of today extends the tree of any earlier day, which is
what a consistency proof shows.

Cost: this reads every manifest of the source's contents ledger and the `id` and
`record_sha256` columns of every file they committed (a proof needs every leaf; the commit path
keeps only the tree's size and root, in each contents checkpoint). Fine for `attest`,
`verify --certificate` and `prove`; nothing on the commit path calls it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from pipelines.archive import keys, merkle
from pipelines.archive.disposed_hashes import read_disposed_hashes
from pipelines.archive.ledger import Ledger, LedgerError
from pipelines.archive.parquet import parquet_to_table
from schemas.ids import source_stream
from schemas.tables import LOGGED_TABLE

TABLE = LOGGED_TABLE  # whose versions are the leaves (TableSchema.certified.merkle_log)


class LeafHashes(Sequence):
    """Leaf hashes packed in one bytearray (32 bytes each): a million versions cost 32 MB,
    not a million Python objects."""

    def __init__(self) -> None:
        self._data = bytearray()

    def append_record_hashes(self, hex_digests: list[str]) -> None:
        for digest in hex_digests:
            self._data += merkle.leaf_hash(bytes.fromhex(digest))

    def __len__(self) -> int:
        return len(self._data) // 32

    def __getitem__(self, index):  # noqa: ANN001 (Sequence protocol: int or slice)
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return bytes(self._data[index * 32 : index * 32 + 32])


@dataclass
class SourceLog:
    source_id: str
    leaves: LeafHashes = field(default_factory=LeafHashes)
    # Leaves of `content_id` (when asked for): (leaf index, record_sha256, last_modified_time)
    matches: list[tuple[int, str, str | None]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (key, what is wrong)
    # Leaves of the record hashes asked for (`wanted`): record_sha256 -> first leaf index
    found: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.leaves)

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        return merkle.root(self.leaves[i] for i in range(size))


def read_log(
    ledger: Ledger,
    source_id: str,
    *,
    content_id: str | None = None,
    wanted: set[str] | frozenset[str] = frozenset(),
) -> SourceLog:
    """The source's leaves from the archive (see the module docstring for the cost), with the
    leaf index of each version of `content_id` (`matches`) and of each record hash in `wanted`
    (`found`, for an export's proofs). A manifest or file that cannot be read is listed in
    `problems` (and adds no leaves): the tree is then not the certified one, and the caller
    names why."""
    log = SourceLog(source_id)
    columns = ["id", "record_sha256", "last_modified_time"]
    for start, part in leaf_parts(ledger, source_id, columns, log.problems):
        digests = part.column("record_sha256").to_pylist()
        log.leaves.append_record_hashes(digests)
        if wanted:
            for offset, digest in enumerate(digests):
                if digest in wanted:
                    log.found.setdefault(digest, start + offset)
        if content_id is not None:
            ids = part.column("id").to_pylist()
            for offset, found in enumerate(ids):
                if found == content_id:
                    moment = part.column("last_modified_time")[offset].as_py()
                    log.matches.append(
                        (
                            start + offset,
                            digests[offset],
                            None if moment is None else moment.isoformat(),
                        )
                    )
    return log


def leaf_parts(
    ledger: Ledger, source_id: str, columns: list[str], problems: list[tuple[str, str]]
) -> Iterator[tuple[int, pa.Table]]:
    """The source's committed contents rows in leaf order, one file at a time: (index of the
    file's first leaf, the file's `columns`). What cannot be read is added to `problems` and
    skipped (its rows add no leaves)."""
    stream = source_stream(source_id)
    try:
        manifest_keys = ledger.manifest_keys(TABLE, stream)
    except ValueError as exc:
        problems.append((keys.ledger_prefix(TABLE, stream), str(exc)))
        return
    manifests = []
    for key in manifest_keys:
        try:
            manifests.append(ledger.read_manifest(key))
        except (LedgerError, OSError) as exc:
            problems.append((key, f"manifest cannot be read ({exc})"))
    disposed = _disposed_rows(ledger, manifests, problems)
    start = 0
    for manifest in manifests:
        if not manifest.is_batch:
            continue
        for entry in manifest.files:
            if entry.table != TABLE:
                continue
            try:
                part = disposed.get(entry.key)
                if part is None:
                    part = parquet_to_table(ledger.store.get(entry.key), columns)
                else:  # a disposition deleted it: its hashes stay, its other columns are null
                    for name in columns:
                        if name not in part.column_names:
                            part = part.append_column(name, pa.nulls(part.num_rows))
                    part = part.select(columns)
            except Exception as exc:  # noqa: BLE001 (missing local file, S3 NoSuchKey, bad bytes)
                problems.append((entry.key, f"file cannot be read ({type(exc).__name__})"))
                continue
            yield start, part
            start += part.num_rows


def _disposed_rows(ledger: Ledger, manifests, problems: list[tuple[str, str]]) -> dict:
    """file key -> the record hashes a disposition kept of a file it deleted (the leaves stay
    the same after a disposition, so every earlier certificate's root still checks)."""
    rows = {}
    for manifest in manifests:
        if manifest.is_disposition:
            try:
                rows.update(read_disposed_hashes(ledger.store, manifest.disposal.hashes))
            except Exception as exc:  # noqa: BLE001 (missing local file, S3 NoSuchKey, bad bytes)
                problems.append((manifest.disposal.hashes.key, f"cannot be read ({exc})"))
    return rows
