"""The `agents` asset: the RingCentral extensions behind creatorId and agent identities."""

import dagster as dg

from assets.common import (
    source_table_asset,
    stored_table_metadata,
    sync_partition_source,
    table_metadata,
)
from assets.identities import identities
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.archive.ledger import Ledger
from pipelines.sync.agents import sync_agents


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
    ledger, stream, report = sync_partition_source(context, ringcentral, archive, sync_agents)
    return dg.MaterializeResult(
        metadata={
            **_agents_table_metadata(ledger, stream),
            "referenced": report.referenced,
            "fetched": report.fetched,
            "new_versions": report.new_versions,
            "not_found": len(report.not_found),
        }
    )


def _agents_table_metadata(ledger: Ledger, stream: str) -> dict[str, object]:
    """`dagster/row_count` and `dagster/uri` of the agents table. Each source's run commits
    the agents it resolves in that source's stream (not in the `account` stream, where this
    count used to look and where today's runs commit nothing), into the one shared `agents/`
    folder, so the count is the live rows of every stream: the `agents` view's rows, which
    the uri names. The streams' states are the ones `sync_agents` has just loaded (it checks
    every stream for known agents)."""
    shown = stored_table_metadata(ledger, "agents", "agents", stream)
    shown["dagster/row_count"] = sum(
        entry.rows
        for other in ledger.streams("agents")
        for entry in ledger.state("agents", other).live_files("agents")
    )
    return shown
