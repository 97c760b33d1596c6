"""The `attachments` asset: the bytes of every attachment of the source's archived contents,
stored write-once by SHA-256 and named by `attachments` rows in the contents ledger."""

import dagster as dg

from assets.common import (
    failing_fast_for_people,
    source_of,
    source_table_asset,
    stored_table_metadata,
)
from assets.contents import contents
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.attachments.sync import (
    AttachmentsSyncSettings,
    pending_downloads,
    sync_attachments,
)
from schemas.ids import source_stream


class AttachmentsConfig(dg.Config):
    threads: int = 4
    """Downloads at once."""
    downloads_per_second: float = 20.0
    """The step's own rate budget: downloads are signed links, not API calls."""


@source_table_asset(
    deps=[contents],
    description=(
        "Downloads every attachment of the contents committed since the last run (plus the "
        "ones still pending), stores each distinct file once at "
        "attachment_files/sha256=<hash>, and commits an attachments row per (content, "
        "attachment) in the contents ledger; a file "
        "that cannot be fetched is quarantined and retried by later runs."
    ),
)
def attachments(
    context: dg.AssetExecutionContext,
    config: AttachmentsConfig,
    ringcentral: RingCentralResource,
    archive: ArchiveResource,
) -> dg.MaterializeResult:
    settings = AttachmentsSyncSettings(
        threads=config.threads, downloads_per_second=config.downloads_per_second
    )
    ledger = archive.ledger()
    stream = source_stream(source_of(context))
    with failing_fast_for_people(), ringcentral.client() as client:
        report = sync_attachments(
            client, ledger, source_of(context), run_id=context.run_id, settings=settings
        )
    return dg.MaterializeResult(
        metadata={
            **stored_table_metadata(ledger, "contents", "attachments", stream),
            "attachments_seen": report.attachments_seen,
            "downloaded": report.downloaded,
            "stored_new_objects": report.stored,
            "deduplicated": report.deduplicated,
            "bytes": dg.MetadataValue.int(report.bytes_downloaded),
            "size_mismatches": report.size_mismatches,
            "refreshed_links": report.refreshed_links,
            "failed": len(report.failed),
            "pending": len(report.pending),
            "idle": report.idle,
        }
    )


@dg.asset_check(
    asset=attachments,
    partitions_def=sources_partitions,
    description="Fails while any attachment of the source could not be downloaded (each is "
    "quarantined with its reason and retried by every run); the list is in metadata.",
)
def attachments_complete(
    context: dg.AssetCheckExecutionContext, archive: ArchiveResource
) -> dg.AssetCheckResult:
    pending = pending_downloads(archive.ledger(), source_of(context))
    return dg.AssetCheckResult(
        passed=not pending,
        metadata={"pending": len(pending), "files": dg.MetadataValue.json(pending[:50])},
    )
