"""The `contents` asset: every message of one source, every version, archived write-once."""

import dagster as dg

from assets.common import (
    ERROR_KIND,
    failing_fast_for_people,
    source_of,
    source_table_asset,
    stored_table_metadata,
    table_metadata,
    triggered_by_webhooks,
    wants_full_refresh,
)
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.archive.ledger import Ledger
from pipelines.ringcentral import RingCentralClient
from pipelines.sync.contents import ContentsSyncSettings, sync_contents
from pipelines.sync.sources import UnknownSourceError, require_known_sources


class ContentsConfig(dg.Config):
    full_refresh: bool = False
    """Re-read the source from its first message; only versions not yet archived are written."""
    batch_records: int = 20_000
    """Records per committed batch (one manifest each): a long load checkpoints as it goes."""


@source_table_asset(
    metadata=table_metadata("contents", "contents"),
    description=(
        "Every content (message) of the source, in +creationTime order from the ledger cursor, "
        "after a one-request -lastModifiedTime probe that ends an idle run, "
        "plus a changes sweep that archives edits, status changes and remote deletions as new "
        "versions. A run launched by webhook events reads only that sweep (new contents "
        "included). Written as write-once Parquet, committed batch by batch in the ledger."
    ),
)
def contents(
    context: dg.AssetExecutionContext,
    config: ContentsConfig,
    ringcentral: RingCentralResource,
    archive: ArchiveResource,
) -> dg.MaterializeResult:
    source_id = source_of(context)
    settings = ContentsSyncSettings(
        full_refresh=wants_full_refresh(context, config.full_refresh),
        changes_only=triggered_by_webhooks(context),
        batch_records=config.batch_records,
        policies=archive.policies(),
        archive=archive.settings(),
    )
    with failing_fast_for_people(), ringcentral.client() as client:
        # The client is shared by the process's steps: count this asset's requests only.
        requests_before, count_429_before = client.stats.total_requests, client.stats.count_429
        ledger = archive.ledger()
        _require_known_source(client, ledger, source_id)
        report = sync_contents(client, ledger, source_id, run_id=context.run_id, settings=settings)
        requests = client.stats.total_requests - requests_before
        count_429 = client.stats.count_429 - count_429_before
    newest_age = report.newest_message_age_seconds()
    head = ledger.head("contents", f"source_id={source_id}")
    return dg.MaterializeResult(
        metadata={
            # Partition keys are channel ids; the partition's page shows what the channel is.
            "channel_type": report.source_type or "unknown (no message in this run)",
            **stored_table_metadata(ledger, "contents", "contents", f"source_id={source_id}"),
            "new_records": report.new_records,
            "new_versions": report.new_versions,
            "quarantined": report.quarantined,
            "pages": report.pages,
            "requests": requests,
            "rate_limited_429s": count_429,
            "batches": report.batches,
            "files": report.files,
            "bytes": dg.MetadataValue.int(report.bytes),
            "cursor": dg.MetadataValue.json(_public_cursor(report.cursor)),
            "newest_message_age_seconds": dg.MetadataValue.float(
                newest_age if newest_age is not None else 0.0
            ),
            "full_refresh": settings.full_refresh,
            "descending_fallback": report.used_descending_fallback,
            # One -lastModifiedTime request showed nothing changed: nothing else was read.
            "idle": report.idle,
            # A webhook-triggered run: the changes sweep only, no probe and no crawl.
            "changes_only": report.changes_only,
            "modified_order_refused": report.modified_order_refused,
            # The ledger head in Dagster's own event log: a witness outside the archive that
            # `rc-archive verify` cannot be fooled past by rewriting the archive alone.
            "ledger_head": dg.MetadataValue.json(
                {"table": "contents", "stream": head.stream, "seq": head.seq, "sha256": head.sha256}
                if head
                else {}
            ),
        }
    )


def _require_known_source(client: RingCentralClient, ledger: Ledger, source_id: str) -> None:
    """A partition for a source RingCentral does not have fails before anything is written,
    once (no retry heals it), saying which sources are known (pipelines/sync/sources.py)."""
    try:
        require_known_sources(client, ledger, [source_id])
    except UnknownSourceError as error:
        raise dg.Failure(
            description=str(error), metadata={ERROR_KIND: "needs_person"}, allow_retries=False
        ) from None


def _public_cursor(cursor: dict) -> dict:
    """The cursor as shown in the UI: page tokens are opaque and long, show only their end."""
    shown = dict(cursor)
    token = shown.get("page_token")
    if token:
        shown["page_token"] = f"...{token[-12:]}"
    return shown
