"""The `attachments` table: one row per (content, attachment, bytes) the archive holds.

Rows are committed in the contents ledger of the source (so verify covers them and the bytes
they name); the bytes sit once per distinct file at `attachments/sha256=<hash>`. `id` is the
attachment id (the version index keys rows by it, like a content's id). `record_sha256` covers
what identifies the capture (content, attachment, declared fields, bytes), not when it
happened, so a re-run never adds a second row for the same bytes of the same content.
No `raw_json`: the attachment object as listed is in the content's `raw_json`, and its `uri`
is a signed link that must not be kept twice.
"""

from __future__ import annotations

import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from schemas.common import TIMESTAMP_TYPE, record_sha256
from schemas.validation import UtcMillis

TABLE_NAME = "attachments"

ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("filename", pa.string()),
        pa.field("content_type", pa.string()),
        pa.field("declared_size", pa.int64()),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("size_matches", pa.bool_(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("object_key", pa.string(), nullable=False),
        pa.field("creation_time", TIMESTAMP_TYPE),
        pa.field("fetched_at", TIMESTAMP_TYPE, nullable=False),
        pa.field("record_sha256", pa.string(), nullable=False),
        pa.field("archived_at", TIMESTAMP_TYPE, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
    ]
)


class AttachmentsModel(pandera.DataFrameModel):
    id: Series[str] = pandera.Field(str_matches=r"^\S+$")
    content_id: Series[str] = pandera.Field(str_matches=r"^\S+$")
    source_id: Series[str] = pandera.Field(str_matches=r"^[0-9a-f]{24}$")
    filename: Series[str] = pandera.Field(nullable=True)
    content_type: Series[str] = pandera.Field(nullable=True)
    declared_size: Series[float] = pandera.Field(nullable=True, ge=0)
    size: Series[int] = pandera.Field(ge=0)
    size_matches: Series[bool]
    sha256: Series[str] = pandera.Field(str_matches=r"^[0-9a-f]{64}$")
    object_key: Series[str] = pandera.Field(str_matches=r"^attachments/sha256=[0-9a-f]{64}$")
    creation_time: Series[UtcMillis] = pandera.Field(nullable=True)
    fetched_at: Series[UtcMillis]
    record_sha256: Series[str] = pandera.Field(str_matches=r"^[0-9a-f]{64}$")
    archived_at: Series[UtcMillis]
    run_id: Series[str]
    batch_id: Series[str]

    class Config:
        strict = True
        coerce = False


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
