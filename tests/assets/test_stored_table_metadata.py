"""What the Dagster UI shows of a stored table: its row count (the live committed rows the
views read) and where its files are."""

from __future__ import annotations

from assets.common import stored_table_metadata
from pipelines.archive.compaction import compact_month
from tests.archive.support import SOURCE_ID, STREAM, commit_records


def test_row_count_and_location_follow_the_live_files(ledger):
    for start in (0, 10):
        commit_records(ledger, start, 10, days=2)
    shown = stored_table_metadata(ledger, "contents", "contents", STREAM)
    assert shown["dagster/row_count"] == 20
    assert shown["dagster/uri"] == ledger.store.uri_for(f"contents/source={SOURCE_ID}")
    compact_month(ledger, SOURCE_ID, "2024-02", "compaction")  # same rows, fewer files
    assert stored_table_metadata(ledger, "contents", "contents", STREAM)["dagster/row_count"] == 20
