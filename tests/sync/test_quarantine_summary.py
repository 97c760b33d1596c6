"""The schema check's summary reads the run's own commits, not the source's history."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.archive.counting import CountingStore
from pipelines.archive.ledger import Ledger
from pipelines.sync.quarantine import quarantine_summary
from schemas.contents import normalise_contents
from schemas.ids import source_stream
from tests.archive.support import SOURCE_ID

STREAM = source_stream(SOURCE_ID)


def _commit(ledger: Ledger, run_id: str, n: int, bad: int, batch: int = 0) -> None:
    good = [
        {
            "id": f"{run_id}-{batch}-{i}",
            "creationTime": f"2026-01-01T00:00:{i:02d}.000Z",
            "body": "hi",
        }
        for i in range(n)
    ]
    # no creationTime: quarantined
    rejected = [{"id": f"{run_id}-{batch}-bad-{i}"} for i in range(bad)]
    result = normalise_contents(
        good + rejected,
        source_id=SOURCE_ID,
        run_id=run_id,
        batch_id="",
        archived_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    tables = {"contents": result.table, "quarantine": result.quarantine}
    ledger.commit_batch("contents", STREAM, tables, {}, run_id)


def test_a_runs_quarantine_is_counted_from_its_own_manifests_only(ledger):
    for run in range(30):  # history: 30 earlier runs, each quarantining one record
        _commit(ledger, f"old-{run}", 2, 1)
    _commit(ledger, "this-run", 3, 2)
    _commit(ledger, "this-run", 1, 1, batch=1)

    counting = CountingStore(ledger.store)
    reader = Ledger(counting)
    for table in ("contents", "identities"):
        reader.state(table, STREAM)  # what every run reads anyway (checkpoint + tail)
    counting.reset()
    reasons = quarantine_summary(reader, SOURCE_ID, "this-run")

    assert reasons == {"creationTime: missing": 3}
    assert [k for k in counting.gets if k.startswith("_ledger/")] == []  # the tail is known
    assert len([k for k in counting.gets if k.startswith("quarantine/")]) == 2  # its own files
    assert quarantine_summary(ledger, SOURCE_ID, "a-run-that-committed-nothing") == {}


def test_each_tables_check_counts_its_own_ledger(ledger):
    _commit(ledger, "this-run", 3, 2)  # contents quarantine only
    assert quarantine_summary(ledger, SOURCE_ID, "this-run", ("contents",)) == {
        "creationTime: missing": 2
    }
    assert quarantine_summary(ledger, SOURCE_ID, "this-run", ("identities",)) == {}
    assert quarantine_summary(ledger, SOURCE_ID, "this-run", ("agents",), "account") == {}
