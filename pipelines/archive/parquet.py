"""Arrow tables <-> Parquet bytes, with the table's explicit schema and one row group per file.

One row group per file (up to a few hundred thousand rows) because small row groups made DuckDB
scans over S3 12x slower (docs/internals.md, "Dependency notes"); statistics on, so readers
prune files by time and id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.archive.checkpoint import VERSION_INDEX_SCHEMA
from schemas.tables import LEDGER_TABLES, TABLES

SCHEMAS: dict[str, pa.Schema] = {name: t.arrow_schema for name, t in TABLES.items()} | {
    "version_index": VERSION_INDEX_SCHEMA,
}
# The column that identifies a record version together with record_sha256.
ID_COLUMNS: dict[str, str] = {t: TABLES[t].id_column for t in LEDGER_TABLES}  # type: ignore[misc]
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def table_to_parquet(table: pa.Table, table_name: str) -> bytes:
    """Parquet bytes (zstd, statistics, one row group) of a table that has the table's schema."""
    schema = SCHEMAS[table_name]
    if not table.schema.equals(schema):
        table = table.cast(schema)  # raises if the columns differ: never write another schema
    # An Arrow output stream, not io.BytesIO: the writer then never needs the GIL, so a batch
    # can be encoded on a background thread while the next one is converted.
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        row_group_size=max(table.num_rows, 1),
        write_statistics=True,
    )
    return sink.getvalue().to_pybytes()


def parquet_to_table(data: bytes, columns: list[str] | None = None) -> pa.Table:
    # ParquetFile, not read_table: the dataset layer behind read_table costs ~0.6 ms a file,
    # paid for every small day file that identities, agents and the ledger read back.
    return pq.ParquetFile(pa.BufferReader(data)).read(columns=columns)


def split_contents_by_day(table: pa.Table) -> Iterator[tuple[date, pa.Table]]:
    """Sorted by (creation_time, id), then cut into one table per creation_date.

    The API lists in +creationTime order, so a batch is usually sorted already: then the day
    tables are zero-copy slices. Otherwise each day is gathered on its own, so only one day's
    copy is made at a time (a whole-batch sort copied ~100 MB per 50k rows and, with fresh
    pages costing microseconds each, took longer than writing the files).
    """
    if table.num_rows == 0:
        return
    order = pc.sort_indices(table, [("creation_time", "ascending"), ("id", "ascending")])
    positions = order.to_numpy()
    in_order = bool(np.all(positions[1:] > positions[:-1]))
    days = table.column("creation_date").take(order).combine_chunks().cast(pa.int32())
    days = days.to_numpy()
    starts = np.flatnonzero(np.diff(days)) + 1
    bounds = [0, *starts.tolist(), len(days)]
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        if in_order:
            chunk = table.slice(start, end - start)
        else:
            chunk = table.take(order.slice(start, end - start))
        yield date.fromordinal(_EPOCH_ORDINAL + int(days[start])), chunk
