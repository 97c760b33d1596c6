"""`internal._contents_thread_files`: which committed contents files hold each thread's rows.

Why: a transcript is a question about one thread, but the `contents` view reads every committed
file, and DuckDB pays a reader set-up for each file it opens even when row-group statistics
then skip all of its rows (most of the cost of a transcript over ~900 day files). With this
table `thread_transcript` reads exactly the thread's few files (`contents_in_files`, views.py).

One row per (thread, channel, file): read from the files themselves (DuckDB's `file_index`
of each row), never inferred from the key layout, so the answer holds whatever folder a file
sits in. Rows with no thread id are listed too (thread_id NULL).

What a rebuild reads (steady cost): the previous catalog's rows of this table, kept for the
files still live, and the rows of the contents files committed since it was built (the
thread_id, source_id and creation_date columns only). Files a compaction or a disposition
removed leave with their rows. The first build, or one after a catalog of another archive or
an older layout, reads every live contents file once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.catalog.connection import INTERNAL_SCHEMA
from pipelines.catalog.state import arrow_rows, open_previous_catalog

THREAD_FILES_TABLE = f"{INTERNAL_SCHEMA}._contents_thread_files"
THREAD_FILES_SCHEMA = pa.schema(
    [
        ("thread_id", pa.string()),
        ("source_id", pa.string()),
        ("key", pa.string()),
        ("first_date", pa.date32()),
        ("last_date", pa.date32()),
        ("versions", pa.int64()),
    ]
)

# The new files' rows, grouped per thread and file; {reader} reads the new files in the order
# of $keys (file_index is the position in that list).
_NEW_ROWS = """
SELECT thread_id, source_id, $keys[CAST(file_index AS BIGINT) + 1] AS key,
       min(creation_date) AS first_date, max(creation_date) AS last_date, count(*) AS versions
FROM {reader}
GROUP BY thread_id, source_id, file_index
"""


def previous_thread_files(audit_db: Path, root_uri: str) -> pa.Table | None:
    """The table a catalog at `audit_db` holds for this archive (None: none, or an older
    layout; the build then reads every file)."""
    conn = open_previous_catalog(audit_db, root_uri)
    if conn is None:
        return None
    try:
        rows = arrow_rows(conn, f"SELECT * FROM {THREAD_FILES_TABLE}")
    except duckdb.Error:
        return None
    finally:
        conn.close()
    if rows.schema.names != THREAD_FILES_SCHEMA.names:
        return None
    return rows.cast(THREAD_FILES_SCHEMA)


def write_thread_files(
    conn: duckdb.DuckDBPyConnection,
    previous: pa.Table | None,
    live_keys: list[str],
    reader_of_keys: Callable[[list[str]], str],
) -> int:
    """Create the table in the catalog being built; returns how many files were read.

    `reader_of_keys(keys)` is the SQL of a read_parquet call over those committed files
    (build.read_parquet_sql), whose `file_index` is the position in `keys`."""
    live = set(live_keys)
    kept = THREAD_FILES_SCHEMA.empty_table()
    known: set[str] = set()
    if previous is not None:
        kept = previous.filter(pc.is_in(previous.column("key"), pa.array(list(live), pa.string())))
        known = set(kept.column("key").unique().to_pylist())
    new_keys = [key for key in live_keys if key not in known]
    kept_rows = kept  # noqa: F841 (read by DuckDB's replacement scan)
    parts = ["SELECT * FROM kept_rows"]
    params: dict[str, list[str]] = {}
    if new_keys:
        parts.append(_NEW_ROWS.format(reader=reader_of_keys(new_keys)))
        params["keys"] = new_keys
    conn.execute(
        f"CREATE TABLE {THREAD_FILES_TABLE} AS SELECT * FROM ({' UNION ALL '.join(parts)}) "
        "ORDER BY thread_id, source_id, key",
        params or None,
    )
    return len(new_keys)
