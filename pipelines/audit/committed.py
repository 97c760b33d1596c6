"""What is committed in an archive: the ledger's manifests, and the files they list.

The manifests are the commit points (docs/internals.md, "Archive layout"): a data file that no
manifest lists is an interrupted write or a stranger, and an auditor must never see it. So the
catalog takes its file lists from the ledger (`pipelines.archive.ledger.Ledger`), never from a
directory listing or a glob.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pipelines.archive.keys import LEDGER_TABLES
from pipelines.archive.ledger import FileEntry, Ledger, Manifest
from pipelines.archive.store import LocalStore, ObjectStore, S3Store, open_store


def open_archive(store_or_uri: Any, env: Mapping[str, str]) -> ObjectStore:
    """An object store for an archive given as a URI/path or as an already opened store."""
    if hasattr(store_or_uri, "uri_for") and hasattr(store_or_uri, "list"):
        return store_or_uri
    return open_store(os.fspath(store_or_uri) if store_or_uri else None, env)


def archive_root_uri(store: ObjectStore) -> str:
    """The archive root as DuckDB and a person name it (a directory, or s3://bucket/prefix)."""
    if isinstance(store, S3Store):
        return f"s3://{store.bucket}/{store.prefix}".rstrip("/")
    if isinstance(store, LocalStore):
        return str(store.root)
    return store.describe()


def committed_manifests(store: ObjectStore) -> list[Manifest]:
    """Every committed manifest of every ledger, in (table, stream, seq) order."""
    ledger = Ledger(store)
    return [manifest for table in LEDGER_TABLES for manifest in ledger.manifests(table)]


def committed_files_by_table(manifests: list[Manifest]) -> dict[str, list[str]]:
    """Table name -> live data keys (a manifest may list files of several tables, e.g. a
    contents batch also commits its quarantine file). Manifests in (table, stream, seq)
    order; a compaction's inputs give way to its output."""
    live: dict[str, FileEntry] = {}
    for manifest in manifests:
        for entry in manifest.replaces:
            live.pop(entry.key, None)
        for entry in manifest.files:
            live.setdefault(entry.key, entry)
    files: dict[str, list[str]] = {}
    for key, entry in live.items():
        files.setdefault(entry.table, []).append(key)
    return files
