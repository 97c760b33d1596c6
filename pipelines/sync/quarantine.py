"""What a run quarantined, for the schema check (invariant 7)."""

from __future__ import annotations

from pipelines.archive.ledger import Ledger
from schemas.ids import source_stream
from schemas.tables import SOURCE_LEDGERS


def quarantine_summary(
    ledger: Ledger,
    source_id: str,
    run_id: str,
    tables: tuple[str, ...] = SOURCE_LEDGERS,
    stream: str | None = None,
) -> dict[str, int]:
    """Reasons (first clause) and counts of records one run quarantined for a source.

    Reads the quarantine files of the run's own manifests in the source's ledgers of `tables`
    (`Ledger.run_manifests`), never the source's earlier quarantine. `stream`: the account's
    stream for the agents ledger (one per account, not per source).
    """
    reasons: dict[str, int] = {}
    stream = stream or source_stream(source_id)
    manifests = [
        manifest for table in tables for manifest in ledger.run_manifests(table, stream, run_id)
    ]
    for manifest in manifests:
        entries = [entry for entry in manifest.files if entry.table == "quarantine"]
        if not entries:
            continue
        for reason in ledger.read_table(entries, ["reason"]).column("reason").to_pylist():
            key = (reason or "").split(";", 1)[0][:160]
            reasons[key] = reasons.get(key, 0) + 1
    return reasons
