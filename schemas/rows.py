"""Records -> validated rows, for the tables converted one record at a time (identities, agents).

Total by contract: each record becomes a row or a quarantine row with every reason found; the
table's pandera checks run once over the batch and send the rows they refuse to quarantine too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from schemas.columns import TableSchema
from schemas.common import Normalised, RecordRejected, datetime_to_ms, raw_and_digest, rows_to_table
from schemas.quarantine import QuarantineBuilder
from schemas.validation import failing_rows

# record, raw JSON bytes, record_sha256 -> the row's values in column order up to record_sha256
RowConverter = Callable[[Any, bytes, str], list[Any]]


def normalise_records(
    schema: TableSchema,
    records: Iterable[Any],
    to_row: RowConverter,
    *,
    quarantine: QuarantineBuilder,
    run_id: str,
    batch_id: str,
    archived_at: datetime,
) -> Normalised:
    """The records as rows of `schema` stamped with the batch, and what was set aside."""
    rows: list[list[Any]] = []
    kept: list[Any] = []
    for record in records:
        try:
            raw_json, digest = raw_and_digest(record)
            rows.append(to_row(record, raw_json, digest))
            kept.append(record)
        except RecordRejected as rejected:
            quarantine.add(record, rejected.reasons)
        except Exception as exc:  # total by contract: an unforeseen shape is quarantined
            quarantine.add(record, [f"unexpected {type(exc).__name__}: {str(exc)[:200]}"])
    stamps = [datetime_to_ms(archived_at), run_id, batch_id]
    table, kept_indices = rows_to_table(schema.arrow_schema, rows, kept, stamps, quarantine)
    kept = [kept[index] for index in kept_indices]
    failures = failing_rows(schema, table)
    if failures:
        for row_index in sorted(failures):
            quarantine.add(kept[row_index], ["validation: " + r for r in failures[row_index]])
        table = table.filter(pa.array([i not in failures for i in range(table.num_rows)]))
    return Normalised(table=table, quarantine=quarantine.to_table())
