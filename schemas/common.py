"""Canonical JSON, record hashing and API timestamp parsing shared by every table.

A content *version* is identified by (`id`, `record_sha256`), so the hash must not depend on
key order or whitespace: it is taken over canonical JSON (keys sorted, no spaces, UTF-8). The
raw JSON kept for auditors is the record as received (key order preserved), a different string.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS_PER_DAY = 86_400_000
TIMESTAMP_TYPE = pa.timestamp("ms", tz="UTC")


def canonical_json(value: Any) -> str:
    """Key-sorted, compact JSON (docs/internals.md, "Tables": the input of `record_sha256`)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def received_json(value: Any) -> str:
    """The record as received: key order kept, so an auditor reads what the API sent."""
    return json.dumps(value, ensure_ascii=False)


def raw_and_digest(record: Any) -> tuple[bytes, str]:
    """(raw JSON bytes as received, record_sha256) of a record that can be stored as a row.

    orjson, because the stdlib encoder costs ~15 us per record on these machines and both
    strings are needed for every record (the 50k records/s budget is 20 us in all). Its sorted
    output is byte-identical to `json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)` for JSON without non-integral floats in exponent form or NaN, which
    API records do not carry. Raises RecordRejected when the record is not JSON (a Python
    object slipped in, an integer over 64 bits) or holds text that is not valid UTF-8 (lone
    surrogates), which no Parquet string can store.
    """
    try:
        raw = orjson.dumps(record)
        canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError, RecursionError) as exc:
        raise RecordRejected([f"record: not storable as UTF-8 JSON ({exc})"]) from None
    return raw, hashlib.sha256(canonical).hexdigest()


class RecordRejected(Exception):
    """A record that cannot become a row; carries every reason found, for quarantine."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utf8(text: str) -> bytes:
    """UTF-8 bytes; lone surrogates (not valid UTF-8) are kept via surrogatepass for hashing."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def record_sha256(record: Any) -> str:
    """SHA-256 of the record's canonical JSON (docs/internals.md, "Tables").

    Total: a value that is not JSON (only possible for a quarantined record) is hashed over its
    best-effort JSON or repr, so quarantine can always name it.
    """
    try:
        return hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except (orjson.JSONEncodeError, TypeError, RecursionError):
        pass
    try:
        text = canonical_json(record)
    except (TypeError, ValueError, RecursionError):
        try:
            text = json.dumps(record, ensure_ascii=False, default=repr)
        except (TypeError, ValueError, RecursionError):
            text = repr(record)
    return sha256_hex(utf8(text))


def parse_timestamp_ms(text: str) -> int:
    """ISO-8601 (with or without milliseconds, `Z` or an offset) to UTC epoch milliseconds.

    A time without an offset is taken as UTC: the API documents every time as UTC and a naive
    value can only come from a client that dropped the `Z`. Raises ValueError (or TypeError for
    a non-string) on anything else, so the caller can quarantine the record with the reason.
    """
    if type(text) is not str:
        raise TypeError(f"expected an ISO-8601 string, got {type(text).__name__}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return delta.days * MS_PER_DAY + delta.seconds * 1000 + delta.microseconds // 1000


def ms_to_datetime(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def datetime_to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return delta.days * MS_PER_DAY + delta.seconds * 1000 + delta.microseconds // 1000


def iso_ms(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and `Z`: the one spelling used in manifests and cursors."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_api_time(value: Any) -> datetime | None:
    """Lenient parse for cursors and comparisons: a UTC datetime, or None if absent or invalid."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return ms_to_datetime(parse_timestamp_ms(value))
    except (ValueError, TypeError, OverflowError):
        return None


def years_after(moment: datetime, years: int) -> datetime:
    """The same day and time `years` later (negative: earlier); 29 February becomes the 28th in
    a year without one, so a retention of N years never ends early by a day."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def day_of(ms: int) -> date:
    return (EPOCH + timedelta(days=ms // MS_PER_DAY)).date()


@dataclass(frozen=True)
class Normalised:
    """The two outputs of a normaliser: rows that passed, and rows kept in quarantine.

    `len(table) + len(quarantine) == len(input)` always: nothing is dropped silently.
    """

    table: pa.Table
    quarantine: pa.Table


def concat_or_empty(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    """The tables one after the other; an empty table of `schema` when there are none."""
    return pa.concat_tables(tables) if tables else schema.empty_table()


def with_constants(table: pa.Table, values: dict[str, Any]) -> pa.Table:
    """`table` with each named column set to one value on every row.

    Why: a batch's stamps (archived_at, run_id, batch_id) are only known when the batch is
    committed, after its pages were converted.
    """
    for name, value in values.items():
        index = table.schema.get_field_index(name)
        column_field = table.schema.field(index)
        column = pa.repeat(pa.scalar(value, column_field.type), table.num_rows)
        table = table.set_column(index, column_field, column)
    return table


def rows_to_table(
    schema: pa.Schema,
    rows: list[list[Any]],
    records: list[Any],
    tail: list[Any],
    quarantine: Any,
) -> tuple[pa.Table, list[int]]:
    """Row lists (schema order, minus `tail` constant columns) -> one Arrow table.

    The normalisers check every value's type first, so the fast path converts whole columns
    at once. If Arrow still refuses a column, rows are converted one by one to find the culprits,
    which go to `quarantine` (a QuarantineBuilder) instead of failing the batch.
    Returns the table and, for each of its rows, the index into `rows`/`records` it came from
    (indices rather than records, so a caller can map rows back to its own positions).
    """
    n_rows = len(rows)
    head_fields = list(schema)[: len(schema) - len(tail)]
    try:
        return _columns_to_table(schema, head_fields, rows, tail, n_rows), list(range(n_rows))
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
    good_rows: list[list[Any]] = []
    good_indices: list[int] = []
    for index, (row, record) in enumerate(zip(rows, records, strict=True)):
        try:
            _columns_to_table(schema, head_fields, [row], tail, 1)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            quarantine.add(record, [f"arrow: {type(exc).__name__}: {str(exc)[:200]}"])
            continue
        good_rows.append(row)
        good_indices.append(index)
    table = _columns_to_table(schema, head_fields, good_rows, tail, len(good_rows))
    return table, good_indices


def _columns_to_table(
    schema: pa.Schema, head_fields: list[pa.Field], rows: list[list[Any]], tail: list[Any], n: int
) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(head_fields)
    arrays = [
        pa.array(values, type=arrow_field.type)
        for arrow_field, values in zip(head_fields, columns, strict=True)
    ]
    tail_fields = list(schema)[len(head_fields) :]
    for tail_field, value in zip(tail_fields, tail, strict=True):
        arrays.append(pa.array([value] * n, type=tail_field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
