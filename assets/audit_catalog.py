"""The `audit_catalog` asset: the DuckDB file of audit views, rebuilt after each archive run."""

import os

import dagster as dg

from assets.agents import agents
from assets.attachments import attachments
from assets.common import GROUP
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, AuditResource
from pipelines.process_memory import release_garbage


@dg.asset(
    deps=[agents, attachments],
    partitions_def=sources_partitions,
    group_name=GROUP,
    kinds={"duckdb"},
    description=(
        "DuckDB views (contents, contents_latest, messages, threads, reply_pairs, edits, "
        "identities_latest, agents, quarantine, ledger, capture_lag) over the committed files "
        "of the whole archive; rebuilt atomically, openable read-only by any DuckDB client."
    ),
)
def audit_catalog(
    context: dg.AssetExecutionContext, archive: ArchiveResource, audit: AuditResource
) -> dg.MaterializeResult:
    # Imported here: DuckDB (~30 MB resident) is only needed for this last step of a run, so
    # the crawls before it run without it.
    from pipelines.audit.catalog import build_catalog

    release_garbage()  # what the run's earlier steps left, before DuckDB takes its budget
    report = build_catalog(archive.store(), audit.audit_db, dict(os.environ))
    context.log.info("audit catalog rebuilt at %s", audit.audit_db)
    return dg.MaterializeResult(
        metadata={
            "audit_db": report.audit_db,
            "manifests": report.manifests,
            "rows_per_table": dg.MetadataValue.json(report.rows_per_table),
            "files_per_table": dg.MetadataValue.json(report.files_per_table),
            "views": len(report.views),
            "build_seconds": dg.MetadataValue.float(report.seconds),
        }
    )
