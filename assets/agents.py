"""The `agents` asset: the RingCentral extensions behind creatorId and agent identities."""

import dagster as dg

from assets.common import (
    failing_fast_for_people,
    source_of,
    source_table_asset,
    stored_table_metadata,
    table_metadata,
)
from assets.identities import identities
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.sync.agents import sync_agents
from schemas.ids import ACCOUNT_STREAM


@source_table_asset(
    deps=[identities],
    metadata=table_metadata("agents", "agents"),
    description=(
        "Agents (extensions) behind the source's creatorIds and agent identities' userIds, "
        "via the Extension API; cached in the archive and re-read after a refresh age. An "
        "extension that no longer exists is kept as `not_found`, not an error."
    ),
)
def agents(
    context: dg.AssetExecutionContext, ringcentral: RingCentralResource, archive: ArchiveResource
) -> dg.MaterializeResult:
    ledger = archive.ledger()
    with failing_fast_for_people(), ringcentral.client() as client:
        report = sync_agents(client, ledger, source_of(context), run_id=context.run_id)
    return dg.MaterializeResult(
        metadata={
            **stored_table_metadata(ledger, "agents", "agents", ACCOUNT_STREAM),
            "referenced": report.referenced,
            "fetched": report.fetched,
            "new_versions": report.new_versions,
            "not_found": len(report.not_found),
        }
    )
