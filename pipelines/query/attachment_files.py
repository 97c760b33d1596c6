"""The archived bytes of the attachments a transcript or an export shows (docs/attachments.md).

A message lists its attachments (`attachments`, with a signed link that dies within hours); the
`attachments` table says which of them the archive holds, with the bytes' SHA-256 and size, at
`attachment_files/sha256=<hash>`. `archived_files` looks the committed rows up for a set of messages
(the newest row per message and attachment, as the `attachments` view picks it), and
`copy_blob` streams the bytes out of the store, checking on the way that they still hash to
their name: a production never carries bytes that differ from what was archived.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

import duckdb

CHUNK = 1 << 20

# The newest committed row of each (message, attachment) among the given messages.
_ARCHIVED = """
SELECT source_id, content_id, id, sha256, size, object_key
FROM internal._src_attachments
WHERE source_id = ANY($source_ids) AND content_id = ANY($content_ids)
QUALIFY row_number() OVER (
    PARTITION BY source_id, content_id, id ORDER BY archived_at DESC, batch_id DESC) = 1
"""


@dataclass(frozen=True)
class ArchivedFile:
    sha256: str
    size: int
    object_key: str


def archived_files(
    conn: duckdb.DuckDBPyConnection, messages: Iterable[tuple[str, str]]
) -> dict[tuple[str, str, str], ArchivedFile]:
    """(source_id, content_id, attachment_id) -> the archived file, for `messages` given as
    (source_id, content_id). An attachment missing from the answer is not archived yet."""
    messages = list(messages)
    if not messages:
        return {}
    try:
        rows = conn.execute(
            _ARCHIVED,
            {
                "source_ids": sorted({source for source, _ in messages}),
                "content_ids": sorted({content for _, content in messages}),
            },
        ).fetchall()
    except duckdb.CatalogException:
        raise RuntimeError(
            "the audit catalog predates the attachments table; rebuild it with `rc-archive catalog`"
        ) from None
    return {
        (source, content, attachment): ArchivedFile(sha256, size, key)
        for source, content, attachment, sha256, size, key in rows
    }


class BlobMismatch(RuntimeError):
    """The stored bytes of an attachment no longer hash to their name (or have another size)."""


def stream_blob(
    store: Any, file: ArchivedFile, write: Callable[[bytes], Any], chunk: int = CHUNK
) -> None:
    """Feed the file's bytes to `write`, CHUNK at a time (memory stays flat), then check their
    SHA-256 and size against the committed row; raises BlobMismatch (after writing) if they
    differ, so the caller drops what it wrote."""
    digest, size = hashlib.sha256(), 0
    handle: IO[bytes] = store.open(file.object_key)
    try:
        while True:
            data = handle.read(chunk)
            if not data:
                break
            digest.update(data)
            size += len(data)
            write(data)
    finally:
        handle.close()
    if digest.hexdigest() != file.sha256 or size != file.size:
        raise BlobMismatch(
            f"attachment object {file.object_key} holds {size} bytes with SHA-256 "
            f"{digest.hexdigest()}, not the archived {file.size} bytes; nothing exported "
            "(run `rc-archive verify`)"
        )
