"""What is committed in an archive: the ledger's manifests, and the files they list.

The manifests are the commit points (docs/internals.md, "Archive layout"): a data file that no
manifest lists is an interrupted write or a stranger, and an auditor must never see it. So the
catalog takes its file lists from the ledger (`pipelines.archive.ledger.Ledger`), never from a
directory listing or a glob.
"""

from __future__ import annotations

import os
from typing import Any

from pipelines.archive.store import LocalStore, ObjectStore, S3Store, open_store
from pipelines.settings import Settings


def open_archive(store_or_uri: Any, settings: Settings) -> ObjectStore:
    """An object store for an archive given as a URI/path (None: ARCHIVE_URI of `settings`)
    or as an already opened store."""
    if hasattr(store_or_uri, "uri_for") and hasattr(store_or_uri, "list"):
        return store_or_uri
    return open_store(os.fspath(store_or_uri) if store_or_uri else None, settings)


def archive_root_uri(store: ObjectStore) -> str:
    """The archive root as DuckDB and a person name it (a directory, or s3://bucket/prefix)."""
    # By attribute, not class: a store wrapped to count or inject faults names the same root.
    if isinstance(store, S3Store) or hasattr(store, "bucket"):
        return f"s3://{store.bucket}/{store.prefix}".rstrip("/")
    if isinstance(store, LocalStore) or hasattr(store, "root"):
        return str(store.root)
    return store.describe()
