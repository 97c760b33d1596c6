"""The audit views, one unpartitioned asset each, refreshed after the sources' runs.

`audit_catalog` (the DuckDB file of audit views) and `iceberg_tables` (the Iceberg tables of
the committed state) cover the whole archive, so they are not per source: the automation
sensor `refresh_audit_views` requests them when any source's assets were materialised since
they last ran (one refresh for a wave of 15-minute runs), and `rc-archive run` refreshes them
once after its last source. Both read only what was committed since their previous build
(the catalog's and the tables' own checkpoints), so a refresh costs the new commits.
"""

import dagster as dg

from assets.common import GROUP
from assets.interrupt import stopping_at_batch_boundaries
from assets.resources import ArchiveResource, AuditResource
from assets.source_assets import SOURCE_ASSETS
from pipelines.process_memory import release_garbage

# Requested when a source's assets were materialised since the last *request*, and not while
# a refresh is already running. Not `since_last_handled()`: it also resets when the views are
# materialised, and a refresh that started before a run committed (a webhook's run lands
# within seconds, often during the refresh the previous run caused) ends after that run's
# materialisations, so the update was taken as handled and no refresh came until some other
# source ran: the views stayed behind, shown STALE. Counting from the request, an update
# during a refresh asks for one more once it ends (incremental, so it costs the new commits).
# Not `eager()`: that waits until no source partition is missing, and a newly discovered
# source is missing until its first run.
AFTER_SOURCES = (
    dg.AutomationCondition.any_deps_updated().since(
        (
            dg.AutomationCondition.newly_requested() | dg.AutomationCondition.initial_evaluation()
        ).with_label("requested")
    )
    & ~dg.AutomationCondition.in_progress()
)


@dg.asset(
    deps=SOURCE_ASSETS,
    group_name=GROUP,
    kinds={"duckdb"},
    owners=["team:compliance"],
    automation_condition=AFTER_SOURCES,
    description=(
        "DuckDB views (contents, contents_latest, messages, threads, reply_pairs, edits, "
        "identities_latest, agents, quarantine, ledger, capture_lag) over the committed files "
        "of the whole archive; rebuilt atomically, openable read-only by any DuckDB client."
    ),
)
def audit_catalog(
    context: dg.AssetExecutionContext, archive: ArchiveResource, audit: AuditResource
) -> dg.MaterializeResult:
    # A stop (Ctrl-C, SIGTERM, a cancelled run) sets the stop flag here rather than raising
    # where the step stands: Dagster's exception, raised by a signal during the first import
    # of DuckDB below, crashed the process with SIGSEGV (DuckDB's module set up half, then its
    # import cache freed after the interpreter). The build is atomic and bounded: it finishes,
    # and the run ends at the next step.
    with stopping_at_batch_boundaries():
        # Imported here: DuckDB (~30 MB resident) is only needed for this last step of a
        # run, so the crawls before it run without it.
        from pipelines.catalog.build import build_catalog

        release_garbage()  # what the run's earlier steps left, before DuckDB takes its budget
        report = build_catalog(archive.store(), audit.audit_db, archive.settings())
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


@dg.asset(
    deps=[audit_catalog],
    group_name=GROUP,
    kinds={"iceberg", "sqlite"},
    owners=["team:compliance"],
    automation_condition=AFTER_SOURCES,
    description=(
        "Apache Iceberg tables of the committed state (one per archive table): each refresh "
        "adds one snapshot per changed table with exactly the files the new manifests "
        "committed, and replaces compacted or disposed files (docs/tables.md)."
    ),
)
def iceberg_tables(
    context: dg.AssetExecutionContext, archive: ArchiveResource, audit: AuditResource
) -> dg.MaterializeResult:
    # As the catalog build: a stop lets the refresh (its imports, its commits) finish.
    with stopping_at_batch_boundaries():
        from pipelines.tables import refresh_tables, tables_config

        store = archive.store()
        config = tables_config(store, audit.audit_db, archive.settings())
        results = refresh_tables(store, config)
    context.log.info("Iceberg catalog %s refreshed", config.catalog_uri)
    return dg.MaterializeResult(
        metadata={
            "catalog_uri": config.catalog_uri,
            "manifests_applied": sum(r.manifests for r in results),
            "files_added": dg.MetadataValue.json({r.table: r.added for r in results}),
            "files_removed": dg.MetadataValue.json({r.table: r.removed for r in results}),
            "snapshots": dg.MetadataValue.json({r.table: r.snapshot_id for r in results}),
        }
    )


@dg.asset_check(
    asset=audit_catalog,
    description="The views are current: every ledger stream's newest manifest is one the "
    "catalog read (a commit during the build makes it a warning; the next refresh catches up).",
)
def audit_catalog_current(archive: ArchiveResource, audit: AuditResource):
    from pipelines.catalog.state import behind_ledger

    behind = behind_ledger(archive.store(), audit.audit_db)
    return dg.AssetCheckResult(
        passed=not behind,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"streams_behind": dg.MetadataValue.json(behind)},
    )


@dg.asset_check(
    asset=iceberg_tables,
    description="Each Iceberg table holds as many rows as the audit catalog's live files "
    "(snapshot summaries, no data read; `rc-archive tables --check` compares every hash).",
)
def iceberg_tables_match_views(archive: ArchiveResource, audit: AuditResource):
    from pipelines.tables import tables_config
    from pipelines.tables.iceberg import row_counts

    store = archive.store()
    counts = row_counts(tables_config(store, audit.audit_db, archive.settings()), audit.audit_db)
    differ = {table: pair for table, pair in counts.items() if pair[0] != pair[1]}
    return dg.AssetCheckResult(
        passed=not differ,
        metadata={
            "rows": dg.MetadataValue.json(
                {t: {"iceberg": a, "views": b} for t, (a, b) in counts.items()}
            ),
            "differ": dg.MetadataValue.json(sorted(differ)),
        },
    )


AUDIT_VIEW_CHECKS = [audit_catalog_current, iceberg_tables_match_views]

refresh_audit_views = dg.AutomationConditionSensorDefinition(
    "refresh_audit_views",
    target=[audit_catalog, iceberg_tables],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Refreshes the audit views and the Iceberg tables after sources' runs.",
)

AUDIT_VIEW_ASSETS = [audit_catalog, iceberg_tables]
