"""An order-independent digest of a multiset of rows, for proofs that two sets of files hold
the same rows.

Why: verify must prove that a compacted file holds exactly the record versions of its inputs,
and that a checkpoint's version index holds exactly what the manifests committed, without
holding millions of rows in memory to sort and compare. Each row is hashed (SHA-256) and the
hashes are added modulo 2**256 with a row count: equal multisets give equal digests whatever
the order, and a missing, extra or changed row changes the sum (finding another multiset with
the same sum means a SHA-256 collision search).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pyarrow as pa

from pipelines.archive.checkpoint import FileEntry
from pipelines.archive.parquet import parquet_to_table

_MODULUS = 1 << 256


@dataclass
class MultisetDigest:
    count: int = 0
    total: int = 0
    # A file could not be read (reported as changed or missing on its own): the digest then
    # proves nothing and comparisons with it are skipped.
    unreadable: bool = False

    def copy(self) -> MultisetDigest:
        return MultisetDigest(self.count, self.total, self.unreadable)

    def add_rows(self, *columns: list) -> None:
        for values in zip(*columns, strict=True):
            row = "\x1f".join("" if v is None else str(v) for v in values)
            self.total = (self.total + int.from_bytes(hashlib.sha256(row.encode()).digest())) % (
                _MODULUS
            )
            self.count += 1

    def add_hashes(self, store, entry: FileEntry) -> None:
        """The record_sha256 column of one data file (what compaction must keep)."""
        part = parquet_to_table(store.get(entry.key), ["record_sha256"])
        self.add_rows(part.column("record_sha256").to_pylist())

    def add_file(self, store, entry: FileEntry, id_column: str) -> None:
        """A committed data file's rows as version-index rows (hash, id, quarantined)."""
        try:
            self._add_file(store, entry, id_column)
        except (pa.ArrowException, OSError, KeyError):
            self.unreadable = True

    def _add_file(self, store, entry: FileEntry, id_column: str) -> None:
        if entry.table == "quarantine":
            part = parquet_to_table(store.get(entry.key), ["record_sha256"])
            hashes = part.column("record_sha256").to_pylist()
            self.add_rows(hashes, [None] * len(hashes), [True] * len(hashes))
            return
        part = parquet_to_table(store.get(entry.key), [id_column, "record_sha256"])
        hashes = part.column("record_sha256").to_pylist()
        self.add_rows(hashes, part.column(id_column).to_pylist(), [False] * len(hashes))

    def add_index(self, index: pa.Table) -> None:
        self.add_rows(
            index.column("record_sha256").to_pylist(),
            index.column("id").to_pylist(),
            index.column("quarantined").to_pylist(),
        )
