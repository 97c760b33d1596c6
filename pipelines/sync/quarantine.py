"""What a run quarantined, for the schema check and the run summary (invariant 7)."""

from __future__ import annotations

from pipelines.archive.ledger import Ledger
from pipelines.sync.versions import committed_tables
from schemas.ids import source_stream


def quarantine_summary(ledger: Ledger, source_id: str, run_id: str) -> dict[str, int]:
    """Reasons (first clause) and counts of records quarantined by one run for one source."""
    reasons: dict[str, int] = {}
    stream = source_stream(source_id)
    for table in committed_tables(ledger, "quarantine", stream, ["reason", "run_id"]):
        for reason, run in zip(
            table.column("reason").to_pylist(), table.column("run_id").to_pylist(), strict=True
        ):
            if run == run_id:
                key = (reason or "").split(";", 1)[0][:160]
                reasons[key] = reasons.get(key, 0) + 1
    return reasons
