"""The quarantine table: every record that could not be archived as a row, with its reason(s).

Invariant 7 (docs/internals.md, "Invariants"): nothing is dropped silently. A record lands
here as received (raw JSON) with the reason, so a person can fix the cause and the record is
never lost.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pandera.pandas as pandera
import pyarrow as pa

from schemas import columns
from schemas.common import TIMESTAMP_TYPE, datetime_to_ms, record_sha256

TABLE_NAME = "quarantine"

# As declared here, `table_name` is checked and described by the registry (`naming`): which
# tables are quarantinable only schemas.tables knows, and their modules import this one.
TABLE = columns.TableSchema(
    TABLE_NAME,
    "Every record that could not be archived as a row, with the reason: nothing is dropped "
    "silently.",
    (
        columns.text(
            "table_name",
            "The table the record was meant for.",
            nullable=False,
        ),
        columns.source_id_column(
            "The channel (RingCentral source) the record was read from (its 24-hex id); empty "
            "for an agent (extensions belong to the account).",
            nullable=True,
        ),
        columns.text(
            "reason",
            "Why the record could not be archived as a row (each field that failed a check, "
            "separated by `; `).",
            nullable=False,
            checks=(pandera.Check.str_length(min_value=1),),
        ),
        *columns.record_columns(
            stamped_at=("quarantined_at", "When the archive set the record aside, in UTC.")
        ),
    ),
    id_column=None,
    scope="stream",
    certified=columns.Certified("quarantined", "quarantined_at"),
)
ARROW_SCHEMA = TABLE.arrow_schema


def naming(quarantinable: Sequence[str]) -> columns.TableSchema:
    """The table as the registry holds it: `table_name` names one of `quarantinable` (the
    tables that declare `quarantinable`), checked and listed in its description."""
    *first, last = quarantinable
    listed = f"{', '.join(first)} or {last}" if first else last
    declared = TABLE.column("table_name")
    return TABLE.with_column(
        dataclasses.replace(
            declared,
            description=f"{declared.description.removesuffix('.')}: {listed}.",
            checks=columns.one_of(quarantinable),
        )
    )


def quarantine_raw_json(record: Any) -> str:
    """The record as received; escaped (`\\udXXX`) only if it holds text that is not UTF-8.

    Lone surrogates cannot be stored in an Arrow/Parquet string; the ASCII escape keeps every
    code point, so the record is still exactly recoverable with json.loads.
    """
    try:
        text = json.dumps(record, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        # Not JSON at all (tuple keys, cycles): keep its repr so a person still sees it.
        record = {"unserialisable_record_repr": repr(record)}
        text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record, ensure_ascii=True, default=repr)
    return text


class QuarantineBuilder:
    """Collects quarantined records of one batch and builds the table once."""

    def __init__(
        self,
        *,
        table_name: str,
        source_id: str | None,
        run_id: str,
        batch_id: str,
        quarantined_at: datetime,
        hash_record: Callable[[Any], str] = record_sha256,
    ) -> None:
        """`hash_record`: the table's version hash (contents: schemas.contents.version_sha256),
        so a malformed record served again with a re-signed link is known as quarantined."""
        self._hash_record = hash_record
        self._table_name = table_name
        self._source_id = source_id
        self._run_id = run_id
        self._batch_id = batch_id
        self._quarantined_ms = datetime_to_ms(quarantined_at)
        self._reasons: list[str] = []
        self._raw: list[str] = []
        self._hashes: list[str] = []

    def add(self, record: Any, reasons: list[str], *, raw_json: str | None = None) -> None:
        self._reasons.append("; ".join(reasons) if reasons else "unknown reason")
        self._raw.append(raw_json if raw_json is not None else quarantine_raw_json(record))
        self._hashes.append(self._hash_record(record))

    def __len__(self) -> int:
        return len(self._reasons)

    def to_table(self) -> pa.Table:
        rows = len(self._reasons)
        return pa.Table.from_arrays(
            [
                pa.array([self._table_name] * rows, pa.string()),
                pa.array([self._source_id] * rows, pa.string()),
                pa.array(self._reasons, pa.string()),
                pa.array(self._raw, pa.string()),
                pa.array(self._hashes, pa.string()),
                pa.array([self._quarantined_ms] * rows, TIMESTAMP_TYPE),
                pa.array([self._run_id] * rows, pa.string()),
                pa.array([self._batch_id] * rows, pa.string()),
            ],
            schema=ARROW_SCHEMA,
        )


def empty_quarantine() -> pa.Table:
    return ARROW_SCHEMA.empty_table()
