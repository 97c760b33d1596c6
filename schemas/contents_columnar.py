"""The columnar fast path of the contents normaliser: plain records become Arrow in C++.

Why: checking and converting ~35 fields per record in Python cost ~45 us a record, and the
archive must take >= 50k records/s. Here Python only serialises and hashes each record and runs
a short guard; Arrow converts the whole chunk in one call (`pa.array(records, FastPath.struct)`) and
the remaining rules (dialects, timestamps, direction) are vectorised.

The guard is the contract with the row-by-row path in `schemas.contents`: a record is taken
here only when that path would accept it and produce the same row. Everything else (wrong
types, values Arrow would coerce silently such as 1.5 -> int 1 or "abc" -> ["a", "b", "c"],
timestamps in a rarer ISO shape, a source that disagrees) is handed back by position and goes
through the row-by-row path, which writes the exact quarantine reasons. So the fast path can only
be faster, never different; tests/archive/test_normalise.py compares both paths.

Which API field fills which column is read from the table's declaration (`Column.api_key`,
`FastPath`): a column the API sends as it is stored is the field as Arrow reads it, with the
column's own type; only the columns in `DERIVED` are computed here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from schemas.columns import STRING_LIST, TableSchema
from schemas.common import TIMESTAMP_TYPE, received_json
from schemas.contents_vocabulary import (
    ATTACHMENT_TYPE,
    CONTENT_DIRECTION,
    CONTENTS_VERSION,
    INT32_MAX,
    INT64_MAX,
    STATUS_DIRECTION,
)

# Records are converted in chunks: bounded temporary memory, and one record Arrow refuses
# costs a re-try of its chunk's halves, not of the batch. One API page: as fast per record as
# 4096 in a steady-state timing, and ~70 MB less peak in a 95k-record source's crawl.
CHUNK_RECORDS = 1000

# Exotic Python values (subclasses of str/int/dict/list such as StrEnum, datetimes,
# dataclasses) make orjson raise here, so they take the row-by-row path that rejects them.
_STRICT_JSON = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_STRICT_SORTED = _STRICT_JSON | orjson.OPT_SORT_KEYS
_NONE = type(None)
# Exact types a top-level value may have (tuples, UUIDs, enums and other exotics are excluded).
_JSON_TYPES = frozenset({str, int, float, bool, _NONE, list, dict})
_STR_ONLY = frozenset({str})
_STR_OR_NONE = frozenset({str, _NONE})
_FORMATTED_KEYS_REAL = frozenset({"Text", "Html"})  # live responses (reference §3)
_FORMATTED_KEYS_SPEC = frozenset({"text", "html"})  # the 2024 spec
_ATTACHMENT_STRINGS = ("id", "contentType", "filename", "uri", "creationTime")
_ATTACHMENT_BOOLS = ("embedded", "public")

# The API record as Arrow reads it: the fields the derived columns are read from, and (added by
# FastPath from the declaration) every field a column takes as it is.
_S = pa.string()
API_ATTACHMENT = pa.struct(
    [
        ("id", _S),
        ("contentType", _S),
        ("filename", _S),
        ("size", pa.int64()),
        ("uri", _S),
        ("embedded", pa.bool_()),
        ("public", pa.bool_()),
        ("creationTime", _S),
    ]
)
_DERIVED_INPUTS: dict[str, pa.DataType] = {
    "id": _S,  # also copied; read by the refusals
    "sourceId": _S,
    "channelId": _S,
    "sourceType": _S,
    "channelType": _S,
    "sourceUri": _S,
    "channelUri": _S,
    "authorIdentityId": _S,  # the resolved author columns
    "creatorId": _S,  # the resolved creator columns
    "creationTime": _S,  # parsed here
    "lastModifiedTime": _S,
    "status": _S,  # direction
    "contentDirection": _S,
    "bodyFormatted": pa.struct([("Text", _S), ("Html", _S), ("text", _S), ("html", _S)]),
    "attachments": pa.list_(API_ATTACHMENT),
}
# The columns computed here (the keys of `derived` in `_columns`) rather than copied: the
# partition's source, both dialects of the channel fields and of bodyFormatted, parsed times,
# the direction, JSON text, and the attachment structs renamed. The resolved names come from
# the caller (`author_creator`), the evidence and its hash from the guard.
DERIVED = frozenset(
    {
        "source_id",
        "source_type",
        "source_uri",
        "creation_time",
        "last_modified_time",
        "creation_date",
        "direction",
        "body_text",
        "body_html",
        "context_data_json",
        "structured_content_json",
        "attachments",
    }
)
# The two ISO-8601 shapes the API sends; Arrow's parser and datetime.fromisoformat agree on
# them except for year 0, which Python refuses (checked separately). Other shapes go row by row.
_API_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$"


@dataclass
class FastChunk:
    """Rows converted on the fast path, and the positions the row-by-row path must take."""

    columns: dict[str, pa.Array]  # table columns by name, up to record_sha256
    positions: list[int]  # chunk position of each fast row, ascending
    slow_positions: list[int]  # ascending


class FastPath:
    """The fast path of one table declaration (schemas.contents.TABLE), built from its columns.

    Every column with an API key that is not in DERIVED is that top-level API field, as Arrow
    reads it with the column's declared type: a column added that way to the declaration is
    converted here without another edit, and the guard checks its values by the same type
    (lists of strings, int32 bounds) as the row-by-row path does.
    """

    def __init__(self, table: TableSchema) -> None:
        copied = [c for c in table.columns if c.api_key is not None and c.name not in DERIVED]
        nested = [c.name for c in copied if not c.api_key.isidentifier()]  # type: ignore[union-attr]
        if nested:
            raise ValueError(f"{table.name}: {', '.join(nested)} read a nested API field")
        # (API key, column) of the columns copied as they are.
        self.copied: tuple[tuple[str, str], ...] = tuple((c.api_key, c.name) for c in copied)  # type: ignore[misc]
        fields = dict(_DERIVED_INPUTS)
        for column in copied:
            known = fields.setdefault(column.api_key, column.type)  # type: ignore[arg-type]
            if known != column.type:
                raise ValueError(f"{column.api_key}: read as {known} and as {column.type}")
        self.struct = pa.struct(list(fields.items()))
        self.string_list_keys = tuple(c.api_key for c in copied if c.type == STRING_LIST)
        self.int32_keys = tuple(c.api_key for c in copied if c.type == pa.int32())

    def convert_chunk(
        self,
        records: list[Any],
        source_id: str,
        author_creator: Callable[[pa.Array, pa.Array], dict[str, pa.Array]],
        digests: list[str | None] | None = None,
    ) -> FastChunk:
        """One chunk of records -> columns of the rows that need no row-by-row handling.

        `author_creator(author_ids, creator_ids)` returns the five resolved columns (or None).
        `digests[i]`, when not None, is record i's record_sha256, already computed by the
        caller.
        """
        return _convert_chunk(self, records, source_id, author_creator, digests)


def _convert_chunk(
    path: FastPath,
    records: list[Any],
    source_id: str,
    author_creator: Callable[[pa.Array, pa.Array], dict[str, pa.Array]],
    digests: list[str | None] | None,
) -> FastChunk:
    guarded = _guard(records, digests or [None] * len(records), path)
    slow = set(guarded.slow_positions)
    positions = guarded.positions
    structs = _to_struct(records, positions, slow, path.struct)
    keep = [i for i in range(len(positions)) if positions[i] not in slow]
    if len(keep) < len(positions):
        structs = structs.take(pa.array(keep, pa.int32()))
        positions = [positions[i] for i in keep]
        guarded = guarded.select(keep)
    if not positions:
        return FastChunk({}, [], sorted(slow))
    refused = _vector_refusals(structs, source_id)
    if refused.true_count:
        mask = pc.invert(refused)
        slow.update(p for p, bad in zip(positions, refused.to_pylist(), strict=True) if bad)
        structs = structs.filter(mask)
        keep = [i for i, bad in enumerate(refused.to_pylist()) if not bad]
        positions = [positions[i] for i in keep]
        guarded = guarded.select(keep)
    if not positions:
        return FastChunk({}, [], sorted(slow))
    columns = _columns(structs, source_id, guarded, author_creator, path.copied)
    return FastChunk(columns, positions, sorted(slow))


@dataclass
class _Guarded:
    """Per-record outputs of the Python pass, aligned with `positions`."""

    positions: list[int]
    slow_positions: list[int]
    raw: pa.BinaryArray  # each record's JSON as received
    digests: list[str]
    context_data: list[str | None]
    structured_content: list[str | None]

    def select(self, keep: list[int]) -> _Guarded:
        return _Guarded(
            [self.positions[i] for i in keep],
            self.slow_positions,
            self.raw.take(pa.array(keep, pa.int32())),
            [self.digests[i] for i in keep],
            [self.context_data[i] for i in keep],
            [self.structured_content[i] for i in keep],
        )


def _guard(records: list[Any], known_digests: list[str | None], path: FastPath) -> _Guarded:
    """The only per-record Python work: serialise, hash, and check what Arrow would coerce.

    Written as one flat loop on purpose: it runs for every archived record. A known digest is
    the same SHA-256 of the same sorted serialisation (schemas.common.record_sha256) for every
    record that passes this guard, so it is used instead of hashing again. The JSON of each
    record is appended to one buffer instead of being kept as its own bytes object: a
    thousand ~1.3 KB objects alive at once left the heap fragmented, and each next
    serialisation then took fresh memory (~1 us a record).
    """
    out = _Guarded([], [], pa.array([], pa.binary()), [], [], [])
    raw_data = bytearray()
    raw_ends = [0]
    sha256 = hashlib.sha256
    dumps = orjson.dumps
    identity_of = CONTENTS_VERSION.identity_of
    string_lists, int32s = path.string_list_keys, path.int32_keys
    for position, (record, known) in enumerate(zip(records, known_digests, strict=True)):
        if (
            type(record) is not dict
            or not _JSON_TYPES.issuperset(map(type, record.values()))
            or not _plain_nested(record, string_lists, int32s)
        ):
            out.slow_positions.append(position)
            continue
        try:
            raw = dumps(record, option=_STRICT_JSON)
            digest = known or sha256(dumps(identity_of(record), option=_STRICT_SORTED)).hexdigest()
            context = record.get("contextData")
            structured = record.get("structuredContent")
            context_json = None if context is None else received_json(context)
            structured_json = None if structured is None else received_json(structured)
        except Exception:  # noqa: BLE001 - any refusal means: let the row-by-row path decide
            out.slow_positions.append(position)
            continue
        out.positions.append(position)
        raw_data += raw
        raw_ends.append(len(raw_data))
        out.digests.append(digest)
        out.context_data.append(context_json)
        out.structured_content.append(structured_json)
    out.raw = _binary(raw_data, raw_ends)
    return out


def _binary(data: bytearray, ends: list[int]) -> pa.BinaryArray:
    """Arrow binary values from one buffer and the end offset of each value (`ends[0]` = 0)."""
    if len(data) > INT32_MAX:  # past 32-bit offsets: Arrow splits the values into chunks
        return pa.array(
            [bytes(data[a:b]) for a, b in zip(ends, ends[1:], strict=False)], pa.binary()
        )
    offsets = pa.array(ends, pa.int32()).buffers()[1]
    return pa.Array.from_buffers(pa.binary(), len(ends) - 1, [None, offsets, pa.py_buffer(data)])


def _plain_nested(
    record: dict, string_list_keys: tuple[str, ...], int32_keys: tuple[str, ...]
) -> bool:
    """True when the nested values Arrow converts have exactly the types the row path takes."""
    get = record.get
    for key in int32_keys:
        number = get(key)
        if number is not None and (
            type(number) is not int or not -INT32_MAX <= number <= INT32_MAX
        ):
            return False
    if type(get("creatorId")) not in _STR_OR_NONE:
        return False  # a numeric creatorId is converted by the row path
    formatted = get("bodyFormatted")
    if formatted is not None and (
        type(formatted) is not dict
        or not (
            formatted.keys() <= _FORMATTED_KEYS_REAL or formatted.keys() <= _FORMATTED_KEYS_SPEC
        )
        or not _STR_OR_NONE.issuperset(map(type, formatted.values()))
    ):
        return False
    for key in string_list_keys:
        items = get(key)
        if items is not None and (
            type(items) is not list or not _STR_ONLY.issuperset(map(type, items))
        ):
            return False
    attachments = get("attachments")
    return attachments is None or _plain_attachments(attachments)


def _plain_attachments(attachments: Any) -> bool:
    if type(attachments) is not list:
        return False
    for item in attachments:
        if type(item) is not dict:
            return False
        size = item.get("size")
        if size is not None and (type(size) is not int or not 0 <= size <= INT64_MAX):
            return False
        for key in _ATTACHMENT_STRINGS:
            if type(item.get(key)) not in _STR_OR_NONE:
                return False
        for key in _ATTACHMENT_BOOLS:
            flag = item.get(key)
            if flag is not None and type(flag) is not bool:
                return False
    return True


def _to_struct(
    records: list[Any], positions: list[int], slow: set[int], struct: pa.StructType
) -> pa.StructArray:
    """Arrow of the guarded records; a record Arrow refuses is found by halving and marked slow.

    Refused rows come back as nulls (then dropped by the caller via `slow`).
    """
    picked = [records[p] for p in positions]
    try:
        return pa.array(picked, struct)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
    if len(positions) == 1:
        slow.add(positions[0])
        return pa.array([None], struct)
    middle = len(positions) // 2
    left = _to_struct(records, positions[:middle], slow, struct)
    right = _to_struct(records, positions[middle:], slow, struct)
    return pa.concat_arrays([left, right])


def _vector_refusals(structs: pa.StructArray, source_id: str) -> pa.BooleanArray:
    """Rows the row-by-row path would reject or read differently (it then says why)."""
    field = structs.field
    refused = pc.or_kleene(pc.is_null(field("id")), pc.equal(field("id"), ""))
    for old, new in (
        ("sourceId", "channelId"),
        ("sourceType", "channelType"),
        ("sourceUri", "channelUri"),
    ):
        refused = pc.or_kleene(refused, pc.fill_null(pc.not_equal(field(old), field(new)), False))
    record_source = pc.coalesce(field("channelId"), field("sourceId"))
    other_source = pc.fill_null(pc.not_equal(pc.ascii_lower(record_source), source_id), False)
    refused = pc.or_kleene(refused, other_source)
    refused = pc.or_kleene(refused, pc.invert(_is_api_time(field("creationTime"))))
    modified = field("lastModifiedTime")
    refused = pc.or_kleene(
        refused, pc.and_kleene(pc.is_valid(modified), pc.invert(_is_api_time(modified)))
    )
    refused = pc.or_kleene(refused, _bad_attachment_times(field("attachments")))
    return pc.fill_null(refused, False)


def _is_api_time(times: pa.Array) -> pa.Array:
    """Null-safe: False for null; True for an API-shaped time that parses (see _API_TIME)."""
    shaped = pc.and_kleene(
        pc.fill_null(pc.match_substring_regex(times, _API_TIME), False),
        pc.invert(pc.fill_null(pc.starts_with(times, "0000"), False)),
    )
    candidates = pc.if_else(shaped, times, None)
    try:
        candidates.cast(TIMESTAMP_TYPE)
        return shaped
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # A day that does not exist (Feb 30): find which, element by element (rare, small).
    parses = []
    for text in candidates.to_pylist():
        try:
            parses.append(text is not None and pa.scalar(text).cast(TIMESTAMP_TYPE) is not None)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            parses.append(False)
    return pa.array(parses, pa.bool_())


def _bad_attachment_times(attachments: pa.ListArray) -> pa.Array:
    """Per row: an attachment creationTime is present but not an API-shaped time."""
    items = attachments.flatten()
    if len(items) == 0:
        return pa.repeat(pa.scalar(False), len(attachments))
    times = items.field("creationTime")
    bad_item = pc.and_kleene(pc.is_valid(times), pc.invert(_is_api_time(times)))
    parents = pc.list_parent_indices(attachments)
    bad_rows = pc.unique(parents.filter(bad_item))
    return pc.is_in(
        pa.array(range(len(attachments)), pa.int64()), value_set=bad_rows.cast(pa.int64())
    )


def _times(strings: pa.Array) -> pa.Array:
    return strings.cast(TIMESTAMP_TYPE)


def _columns(
    structs: pa.StructArray,
    source_id: str,
    guarded: _Guarded,
    author_creator: Callable[[pa.Array, pa.Array], dict[str, pa.Array]],
    copied: tuple[tuple[str, str], ...],
) -> dict[str, pa.Array]:
    field = structs.field
    rows = len(structs)
    creation_time = _times(field("creationTime"))
    formatted = field("bodyFormatted")
    columns: dict[str, pa.Array] = {column: field(key) for key, column in copied}
    derived: dict[str, pa.Array] = {
        "source_id": pa.repeat(pa.scalar(source_id, _S), rows),
        "source_type": pc.coalesce(field("channelType"), field("sourceType")),
        "source_uri": pc.coalesce(field("channelUri"), field("sourceUri")),
        "creation_time": creation_time,
        "last_modified_time": _times(field("lastModifiedTime")),
        "creation_date": creation_time.cast(pa.date32()),
        "direction": _direction(field("contentDirection"), field("status")),
        "body_text": pc.coalesce(
            pc.struct_field(formatted, "Text"), pc.struct_field(formatted, "text")
        ),
        "body_html": pc.coalesce(
            pc.struct_field(formatted, "Html"), pc.struct_field(formatted, "html")
        ),
        "context_data_json": pa.array(guarded.context_data, _S),
        "structured_content_json": pa.array(guarded.structured_content, _S),
        "attachments": _attachments(field("attachments")),
    }
    columns.update(derived)
    columns.update(author_creator(field("authorIdentityId"), field("creatorId")))
    # orjson writes valid UTF-8 only; the cast still checks it, vectorised.
    columns["raw_json"] = guarded.raw.cast(_S)
    columns["record_sha256"] = pa.array(guarded.digests, _S)
    return columns


def _direction(content_direction: pa.Array, status: pa.Array) -> pa.Array:
    """Reference §3.1: contentDirection decides when present (unknown -> null); else status."""
    by_content = _lookup(content_direction, CONTENT_DIRECTION)
    by_status = _lookup(status, STATUS_DIRECTION)
    return pc.if_else(pc.is_valid(content_direction), by_content, by_status)


def _lookup(keys: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """mapping[key] per element, null where the key is null or unknown."""
    index = pc.index_in(keys, value_set=pa.array(list(mapping), _S))
    return pa.array(list(mapping.values()), _S).take(index)


def _attachments(attachments: pa.ListArray) -> pa.Array:
    """API attachment structs -> the table's attachment structs (snake_case, parsed time)."""
    items = attachments.flatten()
    values = pa.StructArray.from_arrays(
        [
            items.field("id"),
            items.field("contentType"),
            items.field("filename"),
            items.field("size"),
            items.field("uri"),
            items.field("embedded"),
            items.field("public"),
            _times(items.field("creationTime")),
        ],
        fields=list(ATTACHMENT_TYPE),
    )
    offsets = pc.subtract(attachments.offsets, attachments.offsets[0])
    return pa.ListArray.from_arrays(
        offsets, values, type=pa.list_(ATTACHMENT_TYPE), mask=attachments.is_null()
    )
