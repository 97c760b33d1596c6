"""Where each source stands: its cursor, its last commit and its capture lag.

Read from the ledger heads only (one listing and one small JSON per source), so it answers in
milliseconds whatever the size of the archive.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.archive.ledger import Ledger
from pipelines.archive.store import ObjectStore
from pipelines.sync.versions import parse_api_time
from schemas.ids import source_id_of_stream

SOURCES_HEADER = (
    "source_id",
    "batches",
    "high_water_time",
    "sweep_mark",
    "last_commit",
    "capture_lag_s",
)


def sources_overview(
    store: ObjectStore, now: datetime | None = None
) -> tuple[tuple[str, ...], list[tuple]]:
    now = now or datetime.now(UTC)
    ledger = Ledger(store)
    rows = []
    for stream in ledger.streams("contents"):
        head = ledger.head("contents", stream)
        if head is None:
            continue
        high_water = head.cursor.get("high_water_time")
        newest = parse_api_time(high_water) if high_water else None
        lag = round((now - newest).total_seconds(), 1) if newest else None
        rows.append(
            (
                source_id_of_stream(stream),
                head.seq + 1,
                high_water,
                head.cursor.get("sweep_mark"),
                head.committed_at,
                lag,
            )
        )
    return SOURCES_HEADER, rows
