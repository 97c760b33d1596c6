"""The `identities` asset: who wrote each message, as versions."""

import dagster as dg

from assets.common import (
    source_table_asset,
    stored_table_metadata,
    sync_partition_source,
    table_metadata,
)
from assets.contents import contents
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.sync.identities import sync_identities


@source_table_asset(
    deps=[contents],
    metadata=table_metadata("identities", "identities_latest"),
    description=(
        "Every author and in-reply-to identity of the source's contents, resolved through the "
        "Identities API (bulk list by source when many are unknown, GET by id when few); a new "
        "version row only when an identity changed."
    ),
)
def identities(
    context: dg.AssetExecutionContext, ringcentral: RingCentralResource, archive: ArchiveResource
) -> dg.MaterializeResult:
    ledger, stream, report = sync_partition_source(context, ringcentral, archive, sync_identities)
    return dg.MaterializeResult(
        metadata={
            **stored_table_metadata(ledger, "identities", "identities", stream),
            "referenced": report.referenced,
            "unknown_before": report.unknown_before,
            "new_versions": report.new_versions,
            "not_found": len(report.not_found),
            "quarantined": report.quarantined,
            "mode": report.mode,
        }
    )
