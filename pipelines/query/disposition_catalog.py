"""What `rc-archive disposition` reads from the audit catalog: each source's channel type (the
retention classes name channel types), and, after a disposition, the flag excerpts of disposed
versions that stay in the archive's committed flags files."""

from __future__ import annotations

import os

import duckdb

from pipelines.catalog.connection import connect
from pipelines.settings import Settings

SOURCE_TYPES = "SELECT source_id, any_value(source_type) FROM contents GROUP BY 1"

# Flags (with an excerpt) of versions `contents` no longer holds: disposed versions, whose
# flags stay in the committed flags files of their batches (docs/governance.md).
KEPT_FLAG_EXCERPTS = """
SELECT f.source_id, count(*) FROM internal._src_flags AS f
ANTI JOIN contents AS c
    ON c.source_id = f.source_id AND c.id = f.content_id AND c.record_sha256 = f.content_sha256
WHERE f.excerpt IS NOT NULL
GROUP BY f.source_id ORDER BY f.source_id
"""


def source_types(audit_db: str | os.PathLike[str], settings: Settings) -> dict[str, str | None]:
    """source id -> channel type of every source the catalog at `audit_db` holds."""
    conn = connect(audit_db, settings, read_only=True)
    try:
        return dict(conn.execute(SOURCE_TYPES).fetchall())
    finally:
        conn.close()


def kept_flag_excerpts(audit: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """(source id, excerpts) of the flags of disposed versions, per source (a connection to
    the catalog rebuilt after the disposition)."""
    return [(source_id, count) for source_id, count in audit.execute(KEPT_FLAG_EXCERPTS).fetchall()]
