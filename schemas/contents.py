"""The `contents` table: one row per archived version of a message, from the API's ContentModel.

The API is beta and drifted (reference §0.2, §3): the channel is `sourceId/sourceType/sourceUri`
in the 2024 spec and `channelId/channelType/channelUri` live; `bodyFormatted` keys are `Text`/
`Html` in real responses and `text`/`html` in the spec; "required" fields arrive as `null`.
Every spelling is accepted into one canonical column; unknown fields stay in `raw_json`.

Speed matters (>= 50k records/s end to end): columns are built in one pass over plain Python
lists, the Arrow table once, and pandera checks only the narrow set of columns that carry checks.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import pandera.pandas as pandera
import pyarrow as pa
import pyarrow.compute as pc

from schemas import contents_columnar
from schemas.columns import (
    ID_PATTERN,
    STRING_LIST,
    Certified,
    Column,
    HoldColumns,
    TableSchema,
    flag,
    matches,
    one_of,
    record_columns,
    source_id_column,
    text,
    utc_time,
)
from schemas.common import (
    EPOCH,
    MS_PER_DAY,
    Normalised,
    RecordRejected,
    concat_or_empty,
    datetime_to_ms,
    parse_timestamp_ms,
    raw_and_digest,
    received_json,
    rows_to_table,
    with_constants,
)
from schemas.contents_vocabulary import (
    ATTACHMENT_TYPE,
    CONTENT_DIRECTION,
    CONTENTS_TRANSPORT,
    INT32_MAX,
    INT64_MAX,
    STATUS_DIRECTION,
)
from schemas.ids import record_id_problem, validate_source_id
from schemas.quarantine import QuarantineBuilder
from schemas.validation import failing_rows

VERSION_SHA256_DESCRIPTION = (
    "SHA-256 of this version's identity: the record as received with its keys sorted, less the "
    "values RingCentral makes anew on every serving (attachments' signed links, webhook-only "
    "keys; docs/internals.md, 'Version identity'). One hash is one version of "
    "one message: a changed message gets a new hash, a re-signed link does not. Rows archived "
    "before this rule hash the whole record as received."
)

TABLE_NAME = "contents"

TABLE = TableSchema(
    TABLE_NAME,
    "Every archived version of every message, once: a message edited on RingCentral has one "
    "row per version the archive saw.",
    (
        text(
            "id",
            "The message's id in RingCentral (the content's `id`). Several versions of one message "
            "share it.",
            api_key="id",
            nullable=False,
            checks=matches(ID_PATTERN),
        ),
        source_id_column(
            "The channel (RingCentral source) the row belongs to: its 24-hex id, from `sourceId` "
            "(`channelId` in newer API responses) or the archive partition.",
        ),
        text(
            "source_type",
            "The kind of channel, e.g. Facebook, WhatsApp, Email, from `sourceType` (`channelType` "
            "in newer API responses).",
            api_key="sourceType",
        ),
        text(
            "source_uri",
            "The channel's own address for the message (a link or URI), from `sourceUri` "
            "(`channelUri` in newer API responses).",
            api_key="sourceUri",
        ),
        text(
            "thread_id",
            "The conversation (thread) the message is part of, from `threadId`.",
            api_key="threadId",
        ),
        text(
            "author_identity_id",
            "The identity (customer or agent account on the channel) that wrote the message, from "
            "`authorIdentityId`; look it up in identities_latest.id.",
            api_key="authorIdentityId",
        ),
        text(
            "identity_group_id",
            "RingCentral's link between identities of the same person across channels, from "
            "`identityGroupId`.",
            api_key="identityGroupId",
        ),
        text(
            "in_reply_to_content_id",
            "The message this one replies to, from `inReplyToContentId`.",
            api_key="inReplyToContentId",
        ),
        text(
            "in_reply_to_author_identity_id",
            "The identity that wrote the message this one replies to, from "
            "`inReplyToAuthorIdentityId`.",
            api_key="inReplyToAuthorIdentityId",
        ),
        text(
            "intervention_id",
            "The RingCentral intervention (case handled by agents) the message belongs to, from "
            "`interventionId`.",
            api_key="interventionId",
        ),
        text(
            "creator_id",
            "The RingCentral extension (agent user) that sent the message, from `creatorId`; empty "
            "for customer messages. Look it up in agents.extension_id.",
            api_key="creatorId",
        ),
        utc_time(
            "creation_time",
            "When the message was created on the channel, in UTC, from `creationTime`. It never "
            "changes between versions.",
            api_key="creationTime",
            nullable=False,
            always_validated=True,
        ),
        utc_time(
            "last_modified_time",
            "When RingCentral last changed the message, in UTC, from `lastModifiedTime`: each "
            "archived version of a message has its own.",
            api_key="lastModifiedTime",
        ),
        Column(
            "creation_date",
            pa.date32(),
            "The UTC day of creation_time (the archive's partition by day).",
            nullable=False,
        ),
        text(
            "status",
            "The message's status in RingCentral as of this version, e.g. New, Replied, Ignored, "
            "Assigned, UserReply, UserInitiated, PendingApproval, from `status`.",
            api_key="status",
        ),
        text(
            "content_direction",
            "The direction exactly as RingCentral sent it (`contentDirection`: Incoming or "
            "Outgoing); often empty, see direction.",
            api_key="contentDirection",
        ),
        text(
            "direction",
            "inbound (written by the customer) or outbound (sent by an agent): from "
            "`contentDirection` when RingCentral sends it, otherwise derived from `status`; empty "
            "when neither tells.",
            checks=one_of(["inbound", "outbound"]),
        ),
        text(
            "type",
            "The kind of message on the channel (e.g. Message, Comment, Photo, Email, Tweet, "
            "Review), from `type`.",
            api_key="type",
        ),
        text(
            "body",
            "The message text as RingCentral sent it, from `body`.",
            api_key="body",
        ),
        text(
            "body_text",
            "The plain-text rendering of the message, from `bodyFormatted.Text`.",
            api_key="bodyFormatted.Text",
        ),
        text(
            "body_html",
            "The HTML rendering of the message, from `bodyFormatted.Html`.",
            api_key="bodyFormatted.Html",
        ),
        text(
            "body_input_format",
            "How the body was written (Text or Html), from `bodyInputFormat`.",
            api_key="bodyInputFormat",
        ),
        text(
            "title",
            "The message's title or e-mail subject, from `title`.",
            api_key="title",
        ),
        text(
            "language",
            "The message's language code, from `language`.",
            api_key="language",
        ),
        text(
            "created_from",
            "Where the message was created: Synchronizer (came from the channel), Interface "
            "(written in the agent app) or Api, from `createdFrom`.",
            api_key="createdFrom",
        ),
        text(
            "synchronization_status",
            "Whether RingCentral synchronised the message with the channel (e.g. Success), from "
            "`synchronizationStatus`.",
            api_key="synchronizationStatus",
        ),
        text(
            "synchronization_error",
            "The channel's error when delivery failed, from `synchronizationError`.",
            api_key="synchronizationError",
        ),
        flag(
            "public",
            "True when the message is public on the channel (e.g. a post, not a private message), "
            "from `public`.",
            api_key="public",
        ),
        flag(
            "published",
            "True when the message was published on the channel, from `published`.",
            api_key="published",
        ),
        flag(
            "remotely_deleted",
            "True when the message was deleted on the channel itself, from `remotelyDeleted`; the "
            "archive keeps the versions from before the deletion.",
            api_key="remotelyDeleted",
        ),
        flag(
            "auto_submitted",
            "True when the message was sent automatically (e.g. an auto-reply), from "
            "`autoSubmitted`.",
            api_key="autoSubmitted",
        ),
        flag(
            "first_in_thread",
            "True when the message started its conversation, from `firstInThread`.",
            api_key="firstInThread",
        ),
        Column(
            "rating",
            pa.int32(),
            "The satisfaction rating given on the channel, from `rating`.",
            api_key="rating",
            checks=(pandera.Check.ge(0),),
        ),
        Column(
            "category_ids",
            STRING_LIST,
            "The RingCentral categories (tags) set on the message, from `categoryIds`.",
            api_key="categoryIds",
        ),
        Column(
            "foreign_categories",
            STRING_LIST,
            "The channel's own categories for the message, from `foreignCategories`.",
            api_key="foreignCategories",
        ),
        Column(
            "capabilities_supported",
            STRING_LIST,
            "What can be done with the message on its channel (e.g. reply, delete), from "
            "`capabilitiesSupported`.",
            api_key="capabilitiesSupported",
        ),
        text(
            "context_data_json",
            "Extra channel data attached to the message, as JSON text, from `contextData`.",
            api_key="contextData",
        ),
        text(
            "structured_content_json",
            "Rich content (cards, buttons, carousels), as JSON text, from `structuredContent`.",
            api_key="structuredContent",
        ),
        Column(
            "attachments",
            pa.list_(ATTACHMENT_TYPE),
            "The files attached to the message (id, content type, file name, size, URI, embedded, "
            "public, creation time), from `attachments`. The files themselves are referenced by "
            "URI, not copied.",
            api_key="attachments",
        ),
        text(
            "author_display_name",
            "The author's display name as the archive knew it when it archived this version (from "
            "the identity's `displayName`); empty if not known then.",
            reproducible=False,
        ),
        flag(
            "author_is_agent",
            "True when the author identity is an agent's, as the archive knew it when it archived "
            "this version (from the identity's `identityType`).",
            reproducible=False,
        ),
        text(
            "creator_name",
            "The sending agent's name as the archive knew it when it archived this version (from "
            "the extension behind `creatorId`, field `name`).",
            reproducible=False,
        ),
        text(
            "creator_extension_number",
            "The sending agent's extension number (from the extension behind `creatorId`, field "
            "`extensionNumber`).",
            reproducible=False,
        ),
        text(
            "creator_email",
            "The sending agent's e-mail address (from the extension behind `creatorId`, field "
            "`contact.email`).",
            reproducible=False,
        ),
        *record_columns(record_sha256=VERSION_SHA256_DESCRIPTION),
    ),
    id_column="id",
    ledger="contents",
    transport=CONTENTS_TRANSPORT,
    quarantinable=True,
    hold=HoldColumns(
        thread="thread_id", identity="author_identity_id", content="id", time="creation_time"
    ),
    certified=Certified("contents", "creation_time", merkle_log=True),
)
ARROW_SCHEMA = TABLE.arrow_schema


def version_sha256(record: Any) -> str:
    """The `record_sha256` of a contents record: its version identity (schemas.version_identity)."""
    return TABLE.version_identity.sha256(record)


@dataclass(frozen=True)
class AuthorInfo:
    """What the identities table says about an author identity."""

    display_name: str | None
    is_agent: bool | None


@dataclass(frozen=True)
class CreatorInfo:
    """What the agents table says about an extension (a content's creatorId)."""

    name: str | None
    extension_number: str | None
    email: str | None


@dataclass(frozen=True)
class Resolved:
    """Lookups the caller already holds: identity id -> author, extension id -> creator."""

    authors: Mapping[str, AuthorInfo] = field(default_factory=dict)
    creators: Mapping[str, CreatorInfo] = field(default_factory=dict)


# (API key, column) of the fields copied as they are, in column order between fixed positions.
_IDENTITY_STRINGS = TABLE.api_run("thread_id", "intervention_id")
_TEXT_STRINGS = TABLE.api_run("body_input_format", "synchronization_error")
_BOOLS = TABLE.api_run("public", "first_in_thread")
_STRING_LISTS = TABLE.api_run("category_ids", "capabilities_supported")
# The columnar fast path, reading which API field fills which column from TABLE.
_FAST_PATH = contents_columnar.FastPath(TABLE)
_NO_AUTHOR = AuthorInfo(None, None)
_NO_CREATOR = CreatorInfo(None, None, None)


def _type_error(key: str, expected: str, value: Any) -> str:
    return f"{key}: expected {expected}, got {type(value).__name__}"


def _append_typed(
    row: list[Any],
    get: Any,
    pairs: tuple[tuple[str, str], ...],
    expected: type,
    label: str,
    errors: list[str],
) -> None:
    """Append each API field of `pairs` to `row`; a value of another type becomes null plus a
    reason (exact type check: bool is not accepted as int, nor int as bool)."""
    for key, _column in pairs:
        row.append(_typed(get, key, expected, label, errors))


def _typed(get: Any, key: str, expected: type, label: str, errors: list[str]) -> Any:
    """The field's value if it has exactly the expected type; else null plus a reason."""
    value = get(key)
    if value is not None and type(value) is not expected:
        errors.append(_type_error(key, label, value))
        return None
    return value


def _channel(record: dict, gen1: str, gen2: str, errors: list[str]) -> Any:
    """One channel field from either dialect; both present and different is an error."""
    old = record.get(gen1)
    new = record.get(gen2)
    if old is not None and new is not None and old != new:
        errors.append(f"{gen1}/{gen2}: disagree ({old!r} vs {new!r})")
    value = new if new is not None else old
    if value is not None and type(value) is not str:
        errors.append(_type_error(gen2 if new is not None else gen1, "string", value))
        return None
    return value


def _timestamp(record: dict, key: str, errors: list[str], *, required: bool) -> int | None:
    value = record.get(key)
    if value is None:
        if required:
            errors.append(f"{key}: missing")
        return None
    try:
        return parse_timestamp_ms(value)
    except (ValueError, TypeError, OverflowError) as exc:
        errors.append(f"{key}: not an ISO-8601 time ({str(value)[:40]!r}: {exc})")
        return None


def _attachments(value: Any, errors: list[str]) -> list[dict] | None:
    if value is None:
        return None
    if type(value) is not list:
        errors.append(_type_error("attachments", "list", value))
        return None
    out = []
    for position, item in enumerate(value):
        if type(item) is not dict:
            errors.append(_type_error(f"attachments[{position}]", "object", item))
            continue
        row: dict[str, Any] = {}
        for key, column in (
            ("id", "id"),
            ("contentType", "content_type"),
            ("filename", "filename"),
            ("uri", "uri"),
        ):
            text = item.get(key)
            if text is not None and type(text) is not str:
                errors.append(_type_error(f"attachments[{position}].{key}", "string", text))
                text = None
            row[column] = text
        size = item.get("size")
        if size is not None and (type(size) is not int or not 0 <= size <= INT64_MAX):
            errors.append(f"attachments[{position}].size: expected int64, got {size!r:.40}")
            size = None
        row["size"] = size
        for key in ("embedded", "public"):
            flag = item.get(key)
            if flag is not None and type(flag) is not bool:
                errors.append(_type_error(f"attachments[{position}].{key}", "boolean", flag))
                flag = None
            row[key] = flag
        row["creation_time"] = _timestamp(
            item, "creationTime", errors, required=False
        )  # errors name the key without position; enough to find it in raw_json
        out.append(row)
    return out


def _json_text(value: Any) -> str | None:
    return None if value is None else received_json(value)


def _row(
    record: Any,
    source_id: str,
    resolved: Resolved | None,
    raw_json: str,
    digest: str,
) -> list[Any]:
    """One record -> the row values in ARROW_SCHEMA order up to `record_sha256`."""
    if type(record) is not dict:
        raise RecordRejected([_type_error("record", "JSON object", record)])
    errors: list[str] = []
    get = record.get

    content_id = get("id")
    if (problem := record_id_problem(content_id)) is not None:
        errors.append(problem)

    record_source = _channel(record, "sourceId", "channelId", errors)
    if record_source is None:
        # Listed with the source filter: the partition's source is the record's source.
        record_source = source_id
    elif record_source.lower() != source_id:
        errors.append(f"sourceId: {record_source!r} differs from the partition's {source_id!r}")
    source_type = _channel(record, "sourceType", "channelType", errors)
    source_uri = _channel(record, "sourceUri", "channelUri", errors)

    row: list[Any] = [content_id, source_id, source_type, source_uri]
    _append_typed(row, get, _IDENTITY_STRINGS, str, "string", errors)

    creator_id = get("creatorId")
    if creator_id is not None and type(creator_id) is not str:
        # Extension ids are digits; tolerate a number (the Extension API's own `id` is one).
        if type(creator_id) is int:
            creator_id = str(creator_id)
        else:
            errors.append(_type_error("creatorId", "string", creator_id))
            creator_id = None
    row.append(creator_id)

    creation_ms = _timestamp(record, "creationTime", errors, required=True)
    row.append(creation_ms)
    row.append(_timestamp(record, "lastModifiedTime", errors, required=False))
    row.append(None if creation_ms is None else creation_ms // MS_PER_DAY)

    status = _typed(get, "status", str, "string", errors)
    content_direction = _typed(get, "contentDirection", str, "string", errors)
    if content_direction is not None:
        direction = CONTENT_DIRECTION.get(content_direction)
    else:
        direction = STATUS_DIRECTION.get(status) if status is not None else None
    content_type = _typed(get, "type", str, "string", errors)
    body = _typed(get, "body", str, "string", errors)

    body_text = body_html = None
    formatted = get("bodyFormatted")
    if formatted is not None:
        if type(formatted) is not dict:
            errors.append(_type_error("bodyFormatted", "object", formatted))
        else:
            for key, value in formatted.items():
                lowered = key.lower() if type(key) is str else key
                if lowered not in ("text", "html"):
                    continue  # unknown variants stay in raw_json
                if value is not None and type(value) is not str:
                    errors.append(_type_error(f"bodyFormatted.{key}", "string", value))
                elif lowered == "text":
                    body_text = value
                else:
                    body_html = value
    row += [status, content_direction, direction, content_type, body, body_text, body_html]

    _append_typed(row, get, _TEXT_STRINGS, str, "string", errors)
    _append_typed(row, get, _BOOLS, bool, "boolean", errors)

    rating = get("rating")
    if rating is not None and (type(rating) is not int or not -INT32_MAX <= rating <= INT32_MAX):
        errors.append(f"rating: expected int32, got {rating!r:.40}")
        rating = None
    row.append(rating)

    for key, _column in _STRING_LISTS:
        value = get(key)
        if value is not None and (
            type(value) is not list or any(type(item) is not str for item in value)
        ):
            errors.append(_type_error(key, "list of strings", value))
            value = None
        row.append(value)

    row.append(_json_text(get("contextData")))
    row.append(_json_text(get("structuredContent")))
    row.append(_attachments(get("attachments"), errors))

    if errors:
        raise RecordRejected(errors)

    author = _NO_AUTHOR
    creator = _NO_CREATOR
    if resolved is not None:
        author_id = row[5]
        if author_id is not None:
            author = resolved.authors.get(author_id, _NO_AUTHOR)
        if creator_id is not None:
            creator = resolved.creators.get(creator_id, _NO_CREATOR)
    row += [
        author.display_name,
        author.is_agent,
        creator.name,
        creator.extension_number,
        creator.email,
        raw_json,
        digest,
    ]
    return row


def normalise_contents(
    records: list[Any],
    *,
    source_id: str,
    run_id: str,
    batch_id: str,
    archived_at: datetime,
    resolved: Resolved | None = None,
) -> Normalised:
    """API content records -> (valid rows, quarantined rows); total: never raises per record.

    `source_id` is the partition being archived; a record that names another source is
    quarantined (a listing filter the server ignored must not mix sources). Raises only
    InvalidSourceIdError for a bad partition id, before any record is read.

    Plain records take the columnar fast path (schemas.contents_columnar); the rest go row by
    row (`_row`), which owns every rejection reason. Rows keep the input order either way.
    A caller that receives records page by page uses ContentsBatch directly.
    """
    return _normalise(
        records,
        source_id=source_id,
        run_id=run_id,
        batch_id=batch_id,
        archived_at=archived_at,
        resolved=resolved,
        columnar=True,
    )


def _normalise(
    records: list[Any],
    *,
    source_id: str,
    run_id: str,
    batch_id: str,
    archived_at: datetime,
    resolved: Resolved | None,
    columnar: bool,
) -> Normalised:
    """normalise_contents, with the fast path switchable so tests can compare both paths."""
    batch = ContentsBatch(source_id=source_id, resolved=resolved, columnar=columnar)
    batch.add(records)
    return batch.take(run_id=run_id, batch_id=batch_id, archived_at=archived_at)


# The per-batch stamps are written when the batch is taken; pages are converted before that.
_UNSTAMPED = {"archived_at": 0, "run_id": "", "batch_id": ""}


class ContentsBatch:
    """Contents converted to Arrow page by page, then validated and stamped once per batch.

    Why: a batch held as API dicts costs ~2.8 KB a record in Python objects, more than its Arrow
    form, and converting a whole batch at once doubles that again in temporaries. Converting each
    page as it arrives keeps only compact Arrow for the batch, so memory follows the batch size in
    Arrow, never the number of records read. pandera runs once, in `take`, because each call
    has a fixed cost (~9 ms) that would dominate if paid per 1000-record page; a row it refuses
    is quarantined from its own raw_json, which is the record as received.
    """

    def __init__(
        self, *, source_id: str, resolved: Resolved | None = None, columnar: bool = True
    ) -> None:
        self.source_id = validate_source_id(source_id)
        self._resolved = resolved
        self._columnar = columnar
        self._buffer: list[Any] = []  # records not yet converted (less than a chunk)
        self._digests: list[str | None] = []  # their record_sha256 when the caller had it
        self._tables: list[pa.Table] = []
        self._quarantine = self._new_quarantine()
        self.records = 0  # records added since the last take (rows and rejections)

    def _new_quarantine(self) -> QuarantineBuilder:
        return QuarantineBuilder(
            table_name=TABLE_NAME,
            source_id=self.source_id,
            run_id="",
            batch_id="",
            quarantined_at=EPOCH,
            hash_record=version_sha256,
        )

    def add(self, records: list[Any], *, digests: list[str] | None = None) -> None:
        """Take one page (any length); rejected records go to the batch's quarantine.

        `digests`, when given, is the record_sha256 of each record, computed already by the
        caller (the version check needs it first); it saves hashing each record twice.
        Records are converted in chunks of CHUNK_RECORDS (one full API page); shorter pages
        are pooled until a chunk is full, so the fast path's fixed cost per call stays small.
        """
        if digests is not None and len(digests) != len(records):
            raise ValueError(f"{len(digests)} digests for {len(records)} records")
        self._buffer.extend(records)
        self._digests.extend(digests if digests is not None else [None] * len(records))
        self.records += len(records)
        if len(self._buffer) >= contents_columnar.CHUNK_RECORDS:
            self._convert()

    def _convert(self) -> None:
        records, self._buffer = self._buffer, []
        digests, self._digests = self._digests, []
        tail = list(_UNSTAMPED.values())
        tables: list[pa.Table] = []
        positions: list[int] = []  # input position of each row of `tables`, in order
        slow_positions: list[int] = [] if self._columnar else list(range(len(records)))
        resolve = functools.partial(_resolved_columns, self._resolved)
        chunk_size = contents_columnar.CHUNK_RECORDS
        for start in range(0, len(records) if self._columnar else 0, chunk_size):
            chunk = _FAST_PATH.convert_chunk(
                records[start : start + chunk_size],
                self.source_id,
                resolve,
                digests[start : start + chunk_size],
            )
            if chunk.positions:
                tables.append(_fast_table(chunk.columns, tail))
                positions.extend(start + p for p in chunk.positions)
            slow_positions.extend(start + p for p in chunk.slow_positions)

        if slow_positions or not tables:  # an empty row-by-row pass still costs ~0.35 ms
            slow_table, slow_kept = _row_by_row(
                records, slow_positions, self.source_id, self._resolved, tail, self._quarantine
            )
            tables.append(slow_table)
            positions.extend(slow_kept)
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        if any(a > b for a, b in zip(positions, positions[1:], strict=False)):
            table = table.take(pc.sort_indices(pa.array(positions, pa.int64())))
        if table.num_rows:
            self._tables.append(table)

    def take(self, *, run_id: str, batch_id: str, archived_at: datetime) -> Normalised:
        """Validate the rows added so far, stamp them, and start an empty batch."""
        if self._buffer:
            self._convert()
        tables, quarantine = self._tables, self._quarantine
        self._tables, self._quarantine, self.records = [], self._new_quarantine(), 0
        table = concat_or_empty(tables, ARROW_SCHEMA)
        failures = failing_rows(TABLE, table)
        if failures:
            raw = table.column("raw_json")
            for row_index in sorted(failures):
                record = orjson.loads(raw[row_index].as_py())
                quarantine.add(record, ["validation: " + r for r in failures[row_index]])
            table = table.filter(pa.array([i not in failures for i in range(table.num_rows)]))
        stamps = {"run_id": run_id, "batch_id": batch_id}
        archived_ms = datetime_to_ms(archived_at)
        return Normalised(
            table=with_constants(table, {"archived_at": archived_ms, **stamps}),
            quarantine=with_constants(
                quarantine.to_table(), {"quarantined_at": archived_ms, **stamps}
            ),
        )


def _row_by_row(
    records: list[Any],
    positions: list[int],
    source_id: str,
    resolved: Resolved | None,
    tail: list[Any],
    quarantine: QuarantineBuilder,
) -> tuple[pa.Table, list[int]]:
    """The records at `positions` (ascending), checked field by field in Python.

    Returns their table and the input position of each of its rows; rejections go to
    `quarantine` with every reason, in input order.
    """
    rows: list[list[Any]] = []
    kept: list[Any] = []
    kept_positions: list[int] = []
    for position in positions:
        record = records[position]
        try:
            raw_json, _ = raw_and_digest(record)
            rows.append(_row(record, source_id, resolved, raw_json, version_sha256(record)))
            kept.append(record)
            kept_positions.append(position)
        except RecordRejected as rejected:
            quarantine.add(record, rejected.reasons)
        except Exception as exc:  # total by contract: an unforeseen shape is quarantined
            quarantine.add(record, [f"unexpected {type(exc).__name__}: {str(exc)[:200]}"])
    table, kept_indices = rows_to_table(ARROW_SCHEMA, rows, kept, tail, quarantine)
    return table, [kept_positions[index] for index in kept_indices]


def _fast_table(columns: dict[str, pa.Array], tail: list[Any]) -> pa.Table:
    """Columns of the fast path (by name, up to record_sha256) plus the constant tail."""
    rows = len(columns["id"])
    head = [columns[name] for name in ARROW_SCHEMA.names[: len(ARROW_SCHEMA) - len(tail)]]
    tail_fields = list(ARROW_SCHEMA)[len(head) :]
    constants = [
        pa.repeat(pa.scalar(value, arrow_field.type), rows)
        for arrow_field, value in zip(tail_fields, tail, strict=True)
    ]
    return pa.Table.from_arrays(head + constants, schema=ARROW_SCHEMA)


def _resolved_columns(
    resolved: Resolved | None, author_ids: pa.Array, creator_ids: pa.Array
) -> dict[str, pa.Array]:
    """The author_* and creator_* columns of fast rows, from lookups the caller holds."""
    authors = [_NO_AUTHOR] * len(author_ids)
    creators = [_NO_CREATOR] * len(creator_ids)
    if resolved is not None:
        authors = [
            _NO_AUTHOR if key is None else resolved.authors.get(key, _NO_AUTHOR)
            for key in author_ids.to_pylist()
        ]
        creators = [
            _NO_CREATOR if key is None else resolved.creators.get(key, _NO_CREATOR)
            for key in creator_ids.to_pylist()
        ]
    return {
        "author_display_name": pa.array([a.display_name for a in authors], pa.string()),
        "author_is_agent": pa.array([a.is_agent for a in authors], pa.bool_()),
        "creator_name": pa.array([c.name for c in creators], pa.string()),
        "creator_extension_number": pa.array([c.extension_number for c in creators], pa.string()),
        "creator_email": pa.array([c.email for c in creators], pa.string()),
    }
