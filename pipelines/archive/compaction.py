"""Compaction that keeps WORM: a closed month's small contents files of a source become one.

Why: a 15-minute schedule writes a few small day files per run, ~100 a day per busy source.
Every reader (views, the version index, verify) pays per file, so audit queries slowed with the
archive's age, not its size. Like Iceberg's `rewrite_data_files`, a compaction rewrites a
closed month's live contents files of one source into one file (sorted by creation time, row
groups sized for scans) and commits it with a compaction manifest in the source's own hash
chain: `files` is the output, `replaces` the inputs (key, SHA-256, rows). Readers then see the
output instead of the inputs. The inputs are never deleted or overwritten (their retention runs
out on its own), and `verify` proves the output holds exactly the multiset of record hashes of
its inputs. A crash before the manifest leaves an uncommitted file that no reader sees.

Three periods, each closed (nothing more is expected in it): an hour of today before the
current one, and a day of the current month before today, become one file per source in the
day's folder (`creation_date=<day>/`, the layout of the batch files); a month before the
current one becomes one file per source and month (`creation_month=<YYYY-MM>/`). Run hourly,
the files a reader opens are about one a month of history, one a day of this month, one an
hour of today and the current hour's batches, whatever the number of runs; compacting a period
again (a late edit) or a longer period later replaces the earlier output the same way. Rows are
copied unchanged (batch_id, run_id and archived_at keep telling when each version was archived).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.archive import keys
from pipelines.archive.checkpoint import FileEntry
from pipelines.archive.ledger import PARQUET_TYPE, Ledger, Manifest
from pipelines.archive.parquet import SCHEMAS, parquet_to_table
from schemas.ids import source_stream

TABLE = "contents"
# DuckDB's own row group size: big enough for scans, small enough to prune by time.
COMPACTED_ROW_GROUP = 122_880
SORT_KEYS = [
    ("creation_time", "ascending"),
    ("id", "ascending"),
    ("last_modified_time", "ascending"),
]


@dataclass(frozen=True)
class CompactionResult:
    source_id: str
    period: str  # YYYY-MM or YYYY-MM-DD
    inputs: int
    rows: int
    manifest: Manifest | None  # None when there was nothing to compact


def month_of(entry: FileEntry) -> str | None:
    """The `YYYY-MM` a contents file belongs to (files never span two months)."""
    if entry.min_creation_time is None or entry.max_creation_time is None:
        return None
    low, high = entry.min_creation_time[:7], entry.max_creation_time[:7]
    return low if low == high else None


def day_of(entry: FileEntry) -> str | None:
    """The `YYYY-MM-DD` a contents file belongs to, when it holds a single day."""
    if entry.min_creation_time is None or entry.max_creation_time is None:
        return None
    low, high = entry.min_creation_time[:10], entry.max_creation_time[:10]
    return low if low == high else None


def hour_of(entry: FileEntry) -> str | None:
    """The `YYYY-MM-DDTHH` a contents file belongs to, when it holds a single hour."""
    if entry.min_creation_time is None or entry.max_creation_time is None:
        return None
    low, high = entry.min_creation_time[:13], entry.max_creation_time[:13]
    return low if low == high else None


def closed_periods(ledger: Ledger, source_id: str, now: datetime | None = None) -> list[str]:
    """Periods with more than one live contents file: months before the current one
    (`YYYY-MM`), days of the current month before today (`YYYY-MM-DD`), hours of today before
    the current one (`YYYY-MM-DDTHH`)."""
    moment = now or datetime.now(UTC)
    current_month, today = moment.strftime("%Y-%m"), moment.strftime("%Y-%m-%d")
    current_hour = moment.strftime("%Y-%m-%dT%H")
    counts: dict[str, int] = {}
    for entry in ledger.committed_files(TABLE, source_stream(source_id)):
        month, day, hour = month_of(entry), day_of(entry), hour_of(entry)
        if month is not None and month < current_month:
            counts[month] = counts.get(month, 0) + 1
        elif day is not None and day[:7] == current_month and day < today:
            counts[day] = counts.get(day, 0) + 1
        elif hour is not None and hour[:10] == today and hour < current_hour:
            counts[hour] = counts.get(hour, 0) + 1
    return sorted(period for period, count in counts.items() if count > 1)


def closed_months(ledger: Ledger, source_id: str, now: datetime | None = None) -> list[str]:
    """Months before the current one that have more than one live contents file."""
    return [p for p in closed_periods(ledger, source_id, now) if len(p) == 7]


def compact_month(
    ledger: Ledger,
    source_id: str,
    month: str,
    run_id: str,
    *,
    now: datetime | None = None,
) -> CompactionResult:
    """Rewrite the live contents files of one source and one closed month into one file."""
    return compact_period(ledger, source_id, month, run_id, now=now)


def compact_period(
    ledger: Ledger,
    source_id: str,
    period: str,
    run_id: str,
    *,
    now: datetime | None = None,
) -> CompactionResult:
    """Rewrite the live contents files of one source and one closed period (a month
    `YYYY-MM` before the current one, a day `YYYY-MM-DD` before today, or an hour
    `YYYY-MM-DDTHH` before the current one) into one file.

    What it reads: the stream's state (checkpoint + newer manifests) and the period's live
    files, one day at a time (memory is about one day of rows plus the output's bytes).
    """
    moment = now or datetime.now(UTC)
    try:
        if len(period) == 7:
            datetime.strptime(period, "%Y-%m")
        elif len(period) == 10:
            datetime.strptime(period, "%Y-%m-%d")
        elif len(period) == 13:
            datetime.strptime(period, "%Y-%m-%dT%H")
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"period {period!r} is not YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH") from None
    is_month = len(period) == 7
    unit, pattern, period_of = {
        7: ("month", "%Y-%m", month_of),
        10: ("day", "%Y-%m-%d", day_of),
        13: ("hour", "%Y-%m-%dT%H", hour_of),
    }[len(period)]
    current = moment.strftime(pattern)
    if period >= current:
        raise ValueError(
            f"{unit} {period} is not closed yet (current {unit} {current}); only earlier "
            f"{unit}s are compacted"
        )
    stream = source_stream(source_id)
    inputs = [e for e in ledger.committed_files(TABLE, stream) if period_of(e) == period]
    if len(inputs) < 2:
        return CompactionResult(source_id, period, len(inputs), 0, None)
    slot = ledger.next_manifest(TABLE, stream, run_id, "compaction")
    if is_month:
        key = keys.compacted_contents_key(stream, period, slot.batch_id)
    else:
        key = keys.contents_key(stream, date.fromisoformat(period[:10]), slot.batch_id)
    data, rows = _merged_parquet(ledger, inputs)
    ledger.write_intent(slot, [key])
    written = ledger.store.put(key, data, content_type=PARQUET_TYPE)
    low = min(e.min_creation_time for e in inputs if e.min_creation_time)
    high = max(e.max_creation_time for e in inputs if e.max_creation_time)
    output = FileEntry(key, TABLE, written.sha256, written.bytes, rows, low, high)
    manifest = ledger.commit(slot, [output], slot.head_cursor, replaces=tuple(inputs))
    return CompactionResult(source_id, period, len(inputs), rows, manifest)


def _merged_parquet(ledger: Ledger, inputs: list[FileEntry]) -> tuple[bytes, int]:
    """The inputs' rows, sorted by (creation_time, id, last_modified_time), as one Parquet
    file. Day files never overlap in days, so sorting each day on its own sorts the month."""
    by_day: dict[str, list[FileEntry]] = {}
    for entry in inputs:
        by_day.setdefault(entry.min_creation_time[:10], []).append(entry)
    schema = SCHEMAS[TABLE]
    sink = pa.BufferOutputStream()
    rows = 0
    pending: list[pa.Table] = []
    with pq.ParquetWriter(sink, schema, compression="zstd", write_statistics=True) as out:
        for day in sorted(by_day):
            day_rows = pa.concat_tables(
                [parquet_to_table(ledger.store.get(e.key)).cast(schema) for e in by_day[day]]
            )
            pending.append(day_rows.take(pc.sort_indices(day_rows, SORT_KEYS)))
            rows += day_rows.num_rows
            if sum(p.num_rows for p in pending) >= COMPACTED_ROW_GROUP:
                out.write_table(pa.concat_tables(pending), row_group_size=COMPACTED_ROW_GROUP)
                pending = []
        if pending:
            out.write_table(pa.concat_tables(pending), row_group_size=COMPACTED_ROW_GROUP)
    return sink.getvalue().to_pybytes(), rows


def compact_source(
    ledger: Ledger, source_id: str, run_id: str, *, now: datetime | None = None
) -> list[CompactionResult]:
    """Compact every closed hour of today, day of this month and earlier month of a source
    (each with more than one live file), then write a checkpoint so readers start after the
    compactions. Shortest first: a day compacted after its hours reads one file an hour."""
    periods = closed_periods(ledger, source_id, now)
    by_length = sorted(periods, key=lambda p: (-len(p), p))  # hours, then days, then months
    results = [compact_period(ledger, source_id, period, run_id, now=now) for period in by_length]
    if any(r.manifest is not None for r in results):
        ledger.write_checkpoint(TABLE, source_stream(source_id))
    return results
