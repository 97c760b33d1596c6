"""Which committed records and files a selector names, read from the catalog.

A legal hold holds whole data files (the unit of storage and of S3 Object Lock): every live file
with at least one record its selector matches, found by DuckDB's `filename` column over the
catalog's live-file list. The hold itself is written by governance/holds.py; finding its files is
a catalog read, so it lives here, on the read side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.catalog.build import uri_list_sql
from pipelines.catalog.connection import ARCHIVE_ROOT_VARIABLE, INTERNAL_SCHEMA, connect
from pipelines.governance.holds import HELD_TABLES, Selector


def _contents_filter(selector: Selector) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    if selector.source:
        clauses.append("source_id = $source")
        params["source"] = selector.source
    if selector.thread:
        clauses.append("thread_id = $thread")
        params["thread"] = selector.thread
    if selector.identity:
        clauses.append("author_identity_id = $identity")
        params["identity"] = selector.identity
    if selector.content_ids:
        clauses.append("list_contains($ids, id)")
        params["ids"] = list(selector.content_ids)
    if selector.from_:
        clauses.append("creation_time >= $from_")
        params["from_"] = selector.from_
    if selector.to:
        clauses.append("creation_time < $to")
        params["to"] = selector.to
    return " AND ".join(clauses), params


def _identities_filter(selector: Selector) -> tuple[str, dict[str, Any]] | None:
    """Identity records a selector holds: the identity itself, or a whole source's (no time
    range applies to them); a thread holds only its messages."""
    if selector.identity:
        return "id = $identity", {"identity": selector.identity}
    if selector.source and not (selector.from_ or selector.to):
        return "source_id = $source", {"source": selector.source}
    return None


def held_objects(audit_db: str, env: Mapping[str, str], selector: Selector) -> list[str]:
    """Keys (relative to the archive root) of the committed data files holding at least one
    record the selector matches. Reads the catalog's live-file list and those files, on the
    read-only locked connection (`connection.connect`)."""
    conn = connect(audit_db, env)
    try:
        root = conn.execute(f"SELECT getvariable('{ARCHIVE_ROOT_VARIABLE}')").fetchone()[0]
        found: set[str] = set()
        for table in HELD_TABLES:
            keys = [
                row[0]
                for row in conn.execute(
                    f"SELECT key FROM {INTERNAL_SCHEMA}._live_files WHERE table_name = $t "
                    "ORDER BY key",
                    {"t": table},
                ).fetchall()
            ]
            if not keys:
                continue
            where = (
                _contents_filter(selector) if table == "contents" else _identities_filter(selector)
            )
            if where is None:
                continue
            clause, params = where
            files = uri_list_sql([root + key for key in keys])
            rows = conn.execute(
                f"SELECT DISTINCT filename FROM read_parquet({files}, union_by_name = true) "
                f"WHERE {clause}",
                params,
            ).fetchall()
            found.update(row[0][len(root) :] for row in rows)
    finally:
        conn.close()
    return sorted(found)
