"""Every archived version of a thread's messages, oldest first per message: what the thread
page shows under each message (the original, each edit, the deletion on the channel).

Why here: the transcript (pipelines/query/transcript.py) shows each message as it stood at a
time, one version each; a reviewer on the web wants the whole history at once. The query reads
the thread's own files the same way the transcript does (`internal._contents_thread_files` and
the `contents_in_files` macro), so a thread page costs the thread's few files, not the archive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

_THREAD_FILES = """
SELECT list(DISTINCT key ORDER BY key)
FROM internal._contents_thread_files WHERE thread_id = $thread_id
HAVING count(*) > 0
"""

_VERSIONS = """
SELECT c.id, c.creation_time, c.last_modified_time, c.archived_at, c.status, c.body,
       c.remotely_deleted, c.attachments, c.record_sha256
FROM internal.contents_in_files($keys) AS c
WHERE c.thread_id = $thread_id AND c.source_id = $source_id
ORDER BY c.creation_time, c.id, c.last_modified_time NULLS FIRST, c.archived_at, c.batch_id
"""


@dataclass(frozen=True)
class Version:
    content_id: str
    kind: str  # original | edit | deletion
    number: int  # 1 for the original
    last_modified_time: datetime | None
    archived_at: datetime | None
    status: str | None
    body: str | None
    deleted: bool
    attachments: list[dict[str, Any]]
    record_sha256: str


def thread_versions(
    conn: duckdb.DuckDBPyConnection, source_id: str, thread_id: str
) -> dict[str, list[Version]]:
    """content id -> its versions, oldest first ({} when the catalog holds no such thread)."""
    files = conn.execute(_THREAD_FILES, {"thread_id": thread_id}).fetchone()
    if files is None:
        return {}
    rows = conn.execute(
        _VERSIONS, {"keys": files[0], "thread_id": thread_id, "source_id": source_id}
    ).fetchall()
    found: dict[str, list[Version]] = {}
    for content_id, _created, modified, archived, status, body, deleted, attachments, sha in rows:
        versions = found.setdefault(content_id, [])
        was_deleted = bool(versions and versions[-1].deleted)
        if not versions:
            kind = "original"
        elif deleted and not was_deleted:
            kind = "deletion"
        else:
            kind = "edit"
        versions.append(
            Version(
                content_id=content_id,
                kind=kind,
                number=len(versions) + 1,
                last_modified_time=modified,
                archived_at=archived,
                status=status,
                body=body,
                deleted=bool(deleted),
                attachments=list(attachments or []),
                record_sha256=sha,
            )
        )
    return found
