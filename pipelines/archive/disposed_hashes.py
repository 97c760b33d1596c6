"""The record hashes a disposition keeps of what it deleted (pipelines/archive/disposal.py):
one Parquet object per disposition, `file_key` plus HASH_COLUMNS per row of each deleted
object, read back wherever a deleted file's rows still count (the version index, the Merkle
log, verify)."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from pipelines.archive.checkpoint import FileEntry
from pipelines.archive.parquet import parquet_to_table
from pipelines.archive.store import ObjectStore

HASH_COLUMNS = ["id", "record_sha256", "last_modified_time"]
HASHES_TABLE = "disposed_hashes"


def read_disposed_hashes(store: ObjectStore, hashes: FileEntry) -> dict[str, pa.Table]:
    """file key -> its rows' HASH_COLUMNS, from a disposition's hashes object (checked
    against the SHA-256 its manifest names; ValueError when it differs)."""
    data = store.get(hashes.key)
    if hashlib.sha256(data).hexdigest() != hashes.sha256:
        raise ValueError(f"{hashes.key} differs from the SHA-256 its manifest names")
    return rows_by_file(parquet_to_table(data))


def rows_by_file(table: pa.Table) -> dict[str, pa.Table]:
    """A hashes object's rows split by `file_key` (each file's rows are contiguous)."""
    by_key: dict[str, pa.Table] = {}
    file_keys = table.column("file_key").to_pylist()
    start = 0
    for index in range(1, len(file_keys) + 1):
        if index == len(file_keys) or file_keys[index] != file_keys[start]:
            by_key[file_keys[start]] = table.slice(start, index - start).select(HASH_COLUMNS)
            start = index
    return by_key
