"""Where each source stands: its cursor, its last commit and its capture lag.

Read from the ledger only (per source: the newest checkpoint and the manifests after it, which
the head needs anyway), so it answers in milliseconds whatever the size of the archive.

Capture lag has one definition, `views.CAPTURE_LAG_COLUMNS`, shared with the `capture_lag`
view and evaluated here by DuckDB over the same two inputs, so `rc-archive sources` and the
view report the same numbers (and column names) for the same archive:
`newest_creation_time` (the newest `creation_time` among the source's live contents files, as
their manifests record it) and `last_committed_at` (the head manifest's commit time).
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from pipelines.archive import keys
from pipelines.archive.ledger import Ledger, Manifest
from pipelines.archive.store import ObjectStore
from pipelines.archive.versions import parse_api_time
from pipelines.catalog.views import CAPTURE_LAG_COLUMNS
from schemas.ids import source_id_of_stream

SOURCES_HEADER = (
    "source_id",
    "batches",
    "high_water_time",
    "sweep_mark",
    "newest_creation_time",
    "last_committed_at",
    "lag_seconds",
    "seconds_since_commit",
)

_TIME = pa.timestamp("ms", tz="UTC")
_INPUTS = pa.schema(
    [
        ("position", pa.int64()),
        ("newest_creation_time", _TIME),
        ("last_committed_at", _TIME),
    ]
)


def capture_lag(
    inputs: list[tuple[datetime | None, datetime | None]], now: datetime
) -> list[tuple[float | None, float | None]]:
    """(lag_seconds, seconds_since_commit) for each (newest_creation_time, last_committed_at),
    computed by the SQL of the `capture_lag` view (`views.CAPTURE_LAG_COLUMNS`)."""
    if not inputs:
        return []
    lag_inputs = pa.Table.from_pylist(  # noqa: F841 (read by DuckDB's replacement scan)
        [
            {"position": i, "newest_creation_time": newest, "last_committed_at": committed}
            for i, (newest, committed) in enumerate(inputs)
        ],
        schema=_INPUTS,
    )
    conn = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        conn.execute("SET TimeZone='UTC'")
        rows = conn.execute(
            f"SELECT {CAPTURE_LAG_COLUMNS.format(now='CAST($now AS TIMESTAMPTZ)')} "
            "FROM lag_inputs ORDER BY position",
            {"now": now},
        ).fetchall()
    finally:
        conn.close()
    return [(row[0], row[1]) for row in rows]


def _last_batch(ledger: Ledger, head: Manifest) -> Manifest:
    """The newest manifest that archived rows: compactions (a few a month) only rewrite
    files, so they do not make a source look fresh."""
    manifest = head
    while not manifest.is_batch and manifest.seq > 0:
        manifest = ledger.read_manifest(
            keys.manifest_key(manifest.table, manifest.stream, manifest.seq - 1)
        )
    return manifest


def _newest_creation_time(ledger: Ledger, stream: str) -> datetime | None:
    """The newest creation_time archived for the stream: the maximum its live contents files'
    manifests (or checkpoint) record, which is the maximum of the rows the views read."""
    times = [
        parsed
        for entry in ledger.state("contents", stream).live_files("contents")
        if (parsed := parse_api_time(entry.max_creation_time)) is not None
    ]
    return max(times, default=None)


def sources_overview(
    store: ObjectStore, now: datetime | None = None
) -> tuple[tuple[str, ...], list[tuple]]:
    now = now or datetime.now(UTC)
    ledger = Ledger(store)
    heads = []
    for stream in ledger.streams("contents"):
        head = ledger.head("contents", stream)
        if head is not None:
            last_commit = parse_api_time(_last_batch(ledger, head).committed_at)
            heads.append((stream, head, _newest_creation_time(ledger, stream), last_commit))
    lags = capture_lag([(newest, committed) for _, _, newest, committed in heads], now)
    rows = []
    for (stream, head, newest, committed), (lag_seconds, since_commit) in zip(
        heads, lags, strict=True
    ):
        rows.append(
            (
                source_id_of_stream(stream),
                head.seq + 1,
                head.cursor.get("high_water_time"),
                head.cursor.get("sweep_mark"),
                newest,
                committed,
                lag_seconds,
                since_commit,
            )
        )
    return SOURCES_HEADER, rows
