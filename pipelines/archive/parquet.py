"""Arrow tables <-> Parquet bytes, with the table's explicit schema and one row group per file.

One row group per file (up to a few hundred thousand rows) because small row groups made DuckDB
scans over S3 12x slower (STACK.md); statistics on, so readers prune files by time and id.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas import agents, contents, identities, quarantine

SCHEMAS: dict[str, pa.Schema] = {
    "contents": contents.ARROW_SCHEMA,
    "identities": identities.ARROW_SCHEMA,
    "agents": agents.ARROW_SCHEMA,
    "quarantine": quarantine.ARROW_SCHEMA,
}
# The column that identifies a record version together with record_sha256.
ID_COLUMNS = {"contents": "id", "identities": "id", "agents": "extension_id"}


def table_to_parquet(table: pa.Table, table_name: str) -> bytes:
    """Parquet bytes (zstd, statistics, one row group) of a table that has the table's schema."""
    schema = SCHEMAS[table_name]
    if not table.schema.equals(schema):
        table = table.cast(schema)  # raises if the columns differ: never write another schema
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        row_group_size=max(table.num_rows, 1),
        write_statistics=True,
    )
    return sink.getvalue()


def parquet_to_table(data: bytes, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(pa.BufferReader(data), columns=columns)


def split_contents_by_day(table: pa.Table) -> Iterator[tuple[date, pa.Table]]:
    """Sorted by (creation_time, id), then cut into one table per creation_date."""
    if table.num_rows == 0:
        return
    ordered = table.sort_by([("creation_time", "ascending"), ("id", "ascending")])
    days = ordered.column("creation_date").combine_chunks().cast(pa.int32()).to_numpy()
    starts = np.flatnonzero(np.diff(days)) + 1
    bounds = [0, *starts.tolist(), len(days)]
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        chunk = ordered.slice(start, end - start)
        yield chunk.column("creation_date")[0].as_py(), chunk
