"""Maintenance assets: compaction of closed months and the deep verify, on their own cadence.

Why separate from the archive job: both read a source's (or the archive's) history, which a
15-minute run must never do. Compaction (hourly) keeps the number of files a reader opens
bounded by months, days and hours, not by runs; the deep verify re-hashes every object once a
day, while each run's
`ledger_intact` check looks at what the run committed.
"""

import dagster as dg

from assets.common import source_of
from assets.contents import contents
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, AuditResource
from pipelines.archive.compaction import compact_source
from pipelines.archive.verify import verify
from pipelines.governance.holds import HoldRegister, hold_compacted

MAINTENANCE_GROUP = "rc_archive_maintenance"


@dg.asset(
    deps=[contents],
    partitions_def=sources_partitions,
    group_name=MAINTENANCE_GROUP,
    kinds={"python", "parquet"},
    description=(
        "Closed hours of today, days of this month and earlier months of the source's "
        "contents, each rewritten into one file (sorted by creation time), committed with a "
        "compaction manifest that names its inputs; inputs "
        "are never deleted. A checkpoint follows, so readers start after it."
    ),
)
def contents_compaction(
    context: dg.AssetExecutionContext, archive: ArchiveResource
) -> dg.MaterializeResult:
    ledger = archive.ledger()
    results = compact_source(ledger, source_of(context), run_id=context.run_id)
    held = hold_compacted(ledger.store, [r.manifest for r in results], archive.settings())
    done = [r for r in results if r.manifest is not None]
    return dg.MaterializeResult(
        metadata={
            "periods_compacted": [r.period for r in done],
            "input_files": sum(r.inputs for r in done),
            "rows": sum(r.rows for r in done),
            "manifests": [r.manifest.key for r in done],
            "held_outputs": sum(len(record.body["object_keys"]) for record in held),
        }
    )


@dg.asset(
    group_name=MAINTENANCE_GROUP,
    kinds={"python"},
    description=(
        "The whole archive verified: every manifest chain, checkpoint and compaction, and every "
        "object's SHA-256 (the deep check the per-run `ledger_intact` check samples)."
    ),
)
def archive_deep_verify(archive: ArchiveResource) -> dg.MaterializeResult:
    report = verify(archive.store(), deep=True, holds=HoldRegister)
    if not report.ok:
        raise dg.Failure(
            description=report.summary()[:4000],
            metadata={"tampering_findings": sum(f.tampering for f in report.findings)},
            allow_retries=False,
        )
    return dg.MaterializeResult(
        metadata={
            "manifests_checked": report.manifests_checked,
            "files_checked": report.files_checked,
            "bytes_checked": report.bytes_checked,
            "non_tampering_findings": len(report.findings),
        }
    )


@dg.asset(
    group_name=MAINTENANCE_GROUP,
    kinds={"duckdb", "html"},
    owners=["team:compliance"],
    description=(
        "Today's supervision report (flags per policy and agent, review backlog, decisions and "
        "time to decision, active legal holds) as HTML, stored write-once in the archive under "
        "_reports/supervision/; reading the catalog for it leaves an access event."
    ),
)
def supervision_report(
    context: dg.AssetExecutionContext, archive: ArchiveResource, audit: AuditResource
) -> dg.MaterializeResult:
    from pipelines.governance.access_trail import AccessTrail
    from pipelines.query.access_logged import run_logged
    from pipelines.query.supervision_report import store_report

    settings = archive.settings()
    store = archive.store()
    details = {"arguments": {"dagster_run_id": context.run_id}}

    stored = []

    def work() -> tuple[str, dict]:
        stored.append(store_report(store, audit.audit_db, settings))
        return stored[0].key, {"rows": None}

    run_logged(AccessTrail(store, settings), "review", details, work)
    report = stored[0]
    return dg.MaterializeResult(
        metadata={
            "report_key": report.key,
            "stored_now": report.written,
            "report_uri": dg.MetadataValue.url(store.uri_for(report.key)),
        }
    )


MAINTENANCE_ASSETS = [contents_compaction, archive_deep_verify, supervision_report]

compaction_job = dg.define_asset_job(
    name="compact_sources",
    selection=dg.AssetSelection.assets(contents_compaction),
    partitions_def=sources_partitions,
    description="Compact the closed months of one source.",
)
deep_verify_job = dg.define_asset_job(
    name="verify_archive",
    selection=dg.AssetSelection.assets(archive_deep_verify),
    description="Verify every object of the archive (daily).",
)


@dg.schedule(
    job=compaction_job,
    cron_schedule="5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: compact every known source's closed hours, days and months.",
)
def compaction_schedule(context: dg.ScheduleEvaluationContext):
    source_keys = list(context.instance.get_dynamic_partitions(sources_partitions.name))
    if not source_keys:
        return dg.SkipReason("no sources yet")
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
    return [dg.RunRequest(run_key=f"{tick}:{key}", partition_key=key) for key in source_keys]


supervision_report_job = dg.define_asset_job(
    name="report_supervision",
    selection=dg.AssetSelection.assets(supervision_report),
    description="Store today's supervision report in the archive (daily).",
)


def _daily(name: str, job, cron: str, description: str) -> dg.ScheduleDefinition:
    """A schedule that runs `job` once per tick; the tick's time is the run key, so a daemon
    restart never launches the same day twice."""

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat())

    return _schedule


supervision_report_schedule = _daily(
    "supervision_report_schedule",
    supervision_report_job,
    "30 6 * * *",
    "Daily: the supervision report, after the night's runs and deep verify.",
)


deep_verify_schedule = _daily(
    "deep_verify_schedule",
    deep_verify_job,
    "0 3 * * *",
    "Daily: the deep verify of the whole archive.",
)
