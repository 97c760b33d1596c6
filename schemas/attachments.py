"""The `attachments` table: one row per (content, attachment, bytes) the archive holds.

Rows are committed in the contents ledger of the source (so verify covers them and the bytes
they name); the bytes sit once per distinct file at `attachment_files/sha256=<hash>`. `id` is the
attachment id (the version index keys rows by it, like a content's id). `record_sha256` covers
what identifies the capture (content, attachment, declared fields, bytes), not when it
happened, so a re-run never adds a second row for the same bytes of the same content.
No `raw_json`: the attachment object as listed is in the content's `raw_json`, and its `uri`
is a signed link that must not be kept twice.
"""

from __future__ import annotations

import pandera.pandas as pandera
import pyarrow as pa

from schemas.columns import (
    ID_PATTERN,
    SHA256_PATTERN,
    Column,
    TableSchema,
    matches,
    record_columns,
    source_id_column,
    text,
    utc_time,
)
from schemas.common import record_sha256

TABLE_NAME = "attachments"

ATTACHMENT_RECORD_SHA256 = (
    "SHA-256 of what identifies the capture (message, attachment, file name, type, declared "
    "size, size and the bytes' sha256), not of when."
)
_NOT_NEGATIVE = (pandera.Check.ge(0),)

TABLE = TableSchema(
    TABLE_NAME,
    "One row per captured attachment file of a message: which bytes (by SHA-256) the archive "
    "holds for it, and whether their size matches the size RingCentral declared.",
    (
        text(
            "id",
            "The attachment's id in RingCentral (`attachments[].id` of the message).",
            api_key="attachments[].id",
            nullable=False,
            checks=matches(ID_PATTERN),
        ),
        text(
            "content_id",
            "The message the file is attached to (messages.id).",
            api_key="id",
            nullable=False,
            checks=matches(ID_PATTERN),
        ),
        source_id_column(
            "The channel (RingCentral source) the row belongs to: its 24-hex id, from `sourceId` "
            "(`channelId` in newer API responses) or the archive partition."
        ),
        text(
            "filename",
            "The file name RingCentral listed, from `attachments[].filename`.",
            api_key="attachments[].filename",
        ),
        text(
            "content_type",
            "The file's MIME type as RingCentral listed it, from `attachments[].contentType`.",
            api_key="attachments[].contentType",
        ),
        Column(
            "declared_size",
            pa.int64(),
            "The size in bytes RingCentral declared, from `attachments[].size`; empty when it "
            "declared none.",
            api_key="attachments[].size",
            checks=_NOT_NEGATIVE,
        ),
        Column(
            "size",
            pa.int64(),
            "How many bytes the archive received and stored.",
            nullable=False,
            checks=_NOT_NEGATIVE,
        ),
        Column(
            "size_matches",
            pa.bool_(),
            "True when size equals declared_size; false when the file host sent the same other "
            "size twice (recorded as received, not hidden).",
            nullable=False,
        ),
        text(
            "sha256",
            "SHA-256 of the stored bytes (hex): the file's name in the archive.",
            nullable=False,
            checks=matches(SHA256_PATTERN),
        ),
        text(
            "object_key",
            "Where the bytes are stored, `attachment_files/sha256=<sha256>` under the archive "
            "root (`attachments/sha256=<sha256>` for bytes stored before layout 2): once per "
            "distinct file, shared by every message that sent it.",
            nullable=False,
            checks=matches(r"^(attachment_files|attachments)/sha256=[0-9a-f]{64}$"),
        ),
        utc_time(
            "creation_time",
            "When the message the file is attached to was created, in UTC (its `creationTime`).",
            api_key="creationTime",
        ),
        utc_time(
            "fetched_at",
            "When the archive downloaded the bytes, in UTC.",
            nullable=False,
        ),
        *record_columns(
            raw_json=False,
            record_sha256=ATTACHMENT_RECORD_SHA256,
            stamped_at=("archived_at", "When the archive committed this row, in UTC."),
        ),
    ),
    id_column="id",
    ledger="contents",
    quarantinable=True,
)
ARROW_SCHEMA = TABLE.arrow_schema


def attachment_record_sha256(
    *,
    content_id: str,
    attachment_id: str,
    filename: str | None,
    content_type: str | None,
    declared_size: int | None,
    size: int,
    sha256: str,
) -> str:
    """The row's version: what was captured, not when."""
    return record_sha256(
        {
            "content_id": content_id,
            "id": attachment_id,
            "filename": filename,
            "content_type": content_type,
            "declared_size": declared_size,
            "size": size,
            "sha256": sha256,
        }
    )


def rows_to_table(rows: list[dict]) -> pa.Table:
    """Rows (dicts keyed by column; times as tz-aware datetimes) -> a table of ARROW_SCHEMA."""
    return pa.Table.from_pylist(rows, schema=ARROW_SCHEMA)
