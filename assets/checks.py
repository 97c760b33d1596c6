"""Asset checks: schema-valid (quarantine), reconciled against the API, ledger intact."""

import warnings

import dagster as dg

from assets.common import API_POOL, source_of
from assets.contents import contents
from pipelines.archive.verify import verify_recent
from pipelines.partitions import sources_partitions
from pipelines.resources import ArchiveResource, RingCentralResource
from pipelines.sync.quarantine import quarantine_summary
from pipelines.sync.reconcile import reconcile_source
from schemas.ids import source_stream

# Checks are partitioned like their asset so each source's run checks that source; Dagster
# marks partitioned checks as preview (1.13). Chosen knowingly: silence the notice.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)


class ReconcileConfig(dg.Config):
    mode: str = "full"
    """`full` compares every id the API lists; `sample` only the newest pages (cheaper)."""
    sample_pages: int = 2


@dg.asset_check(
    asset=contents,
    partitions_def=sources_partitions,
    description="Fails when this run quarantined records; counts and reasons in metadata.",
)
def contents_schema_valid(
    context: dg.AssetCheckExecutionContext, archive: ArchiveResource
) -> dg.AssetCheckResult:
    source_id = source_of(context)
    reasons = quarantine_summary(archive.ledger(), source_id, context.run.run_id)
    total = sum(reasons.values())
    return dg.AssetCheckResult(
        passed=total == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined_this_run": total, "reasons": dg.MetadataValue.json(reasons)},
    )


@dg.asset_check(
    asset=contents,
    partitions_def=sources_partitions,
    pool=API_POOL,
    description="The archive holds every content id the API lists for the source (up to the "
    "archive's high-water mark).",
)
def contents_reconciled(
    context: dg.AssetCheckExecutionContext,
    config: ReconcileConfig,
    ringcentral: RingCentralResource,
    archive: ArchiveResource,
) -> dg.AssetCheckResult:
    with ringcentral.client() as client:
        report = reconcile_source(
            client,
            archive.ledger(),
            source_of(context),
            mode=config.mode,
            sample_pages=config.sample_pages,
        )
    return dg.AssetCheckResult(
        passed=report.ok,
        metadata={
            "mode": report.mode,
            "api_ids_checked": report.api_ids_checked,
            "archived_ids": report.archived_ids,
            "missing": len(report.missing),
            "missing_sample": dg.MetadataValue.json(report.missing[:20]),
            "not_due_yet": report.not_due,
            "incomplete": report.incomplete or "",
        },
    )


@dg.asset_check(
    asset=contents,
    partitions_def=sources_partitions,
    description="This source's ledgers since their newest checkpoint chain onto it, every file "
    "they committed and a rotating sample of older files match their SHA-256 (cost independent "
    "of the archive's age; the daily `archive_deep_verify` checks everything).",
)
def ledger_intact(
    context: dg.AssetCheckExecutionContext, archive: ArchiveResource
) -> dg.AssetCheckResult:
    report = verify_recent(archive.store(), source_stream(source_of(context)))
    findings = report.findings
    tampering = [f for f in findings if f.tampering]
    return dg.AssetCheckResult(
        passed=not tampering,
        metadata={
            "manifests_checked": report.manifests_checked,
            "files_checked": report.files_checked,
            "tampering_findings": len(tampering),
            "findings": dg.MetadataValue.json([str(f) for f in findings[:50]]),
        },
    )


# Every check of the archive job, for the code location and the in-process runner alike.
ARCHIVE_CHECKS = [contents_schema_valid, contents_reconciled, ledger_intact]
