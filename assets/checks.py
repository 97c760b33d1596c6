"""Asset checks: schema-valid (quarantine), reconciled against the API, ledger intact."""

from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from assets.agents import agents
from assets.attachments import attachments_complete
from assets.common import API_POOL, failing_fast_for_people, source_of
from assets.contents import contents
from assets.identities import identities
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.archive.ledger import Ledger
from pipelines.archive.verify import verify_recent
from pipelines.sync.reconcile import committed_in_run, reconcile_due, reconcile_source
from schemas.ids import source_stream
from schemas.tables import table_schema


class ReconcileConfig(dg.Config):
    mode: str = "full"
    """`full` compares every id the API lists; `sample` only the newest pages (cheaper)."""
    sample_pages: int = 2
    every_hours: float = 24.0
    """Compare an unchanged source at most this often (0 = every run); a run that archived
    changes is always compared."""


def quarantined_in_run(ledger: Ledger, table: str, source_id: str, run_id: str) -> dict[str, int]:
    """Reasons (first clause) and counts of the `table` records one run quarantined for a
    source: the quarantine rows named `table` in the run's own manifests of the ledger that
    commits `table`, in the source's stream (the one stream every ledger uses for a source,
    agents too). Rows another table quarantined in the same ledger are not counted: a failed
    attachment download is quarantined in the contents ledger as `attachments`, and it is
    `attachments_complete` that fails for it, not `contents_schema_valid`."""
    reasons: dict[str, int] = {}
    ledger_table = table_schema(table).ledger
    for manifest in ledger.run_manifests(ledger_table, source_stream(source_id), run_id):
        entries = [entry for entry in manifest.files if entry.table == "quarantine"]
        if not entries:
            continue
        rows = ledger.read_table(entries, ["table_name", "reason"])
        for name, reason in zip(
            rows.column("table_name").to_pylist(), rows.column("reason").to_pylist(), strict=True
        ):
            if name == table:
                key = (reason or "").split(";", 1)[0][:160]
                reasons[key] = reasons.get(key, 0) + 1
    return reasons


def _schema_valid(asset: dg.AssetsDefinition):
    """The schema check of one table asset: fails (a warning) when this run quarantined any of
    its records, with counts and reasons; reads only the run's own manifests."""
    table = asset.key.to_user_string()

    @dg.asset_check(
        asset=asset,
        name=f"{table}_schema_valid",
        partitions_def=sources_partitions,
        description=f"Fails when this run quarantined {table} records; counts and reasons in "
        "metadata.",
    )
    def check(context: dg.AssetCheckExecutionContext, archive: ArchiveResource):
        reasons = quarantined_in_run(
            archive.ledger(), table, source_of(context), context.run.run_id
        )
        total = sum(reasons.values())
        return dg.AssetCheckResult(
            passed=total == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"quarantined_this_run": total, "reasons": dg.MetadataValue.json(reasons)},
        )

    return check


contents_schema_valid = _schema_valid(contents)
identities_schema_valid = _schema_valid(identities)
agents_schema_valid = _schema_valid(agents)


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
    """Reads first the contents ledger head (did this run commit?) and this check's latest
    evaluations of the partition in the Dagster event log (when was it last compared); only
    when due does it list the API and read the archived ids of the newest files.

    Inside `failing_fast_for_people`, like the API assets: a stop request while it reads the
    event log sets the stop flag instead of Dagster's handler raising in the middle of a
    database call (SQLAlchemy then printed a traceback after the interrupt's one line)."""
    with failing_fast_for_people():
        return _reconciled(context, config, ringcentral, archive)


def _reconciled(
    context: dg.AssetCheckExecutionContext,
    config: ReconcileConfig,
    ringcentral: RingCentralResource,
    archive: ArchiveResource,
) -> dg.AssetCheckResult:
    source_id = source_of(context)
    ledger = archive.ledger()
    due = reconcile_due(
        now=datetime.now(UTC),
        last_reconciled=_last_compared_at(context, source_id),
        committed_this_run=committed_in_run(ledger, source_id, context.run.run_id),
        every=timedelta(hours=config.every_hours),
    )
    if not due.due:
        # Not a failure and not a pass by comparison: passed, saying when it runs next.
        return dg.AssetCheckResult(
            passed=True,
            description=due.reason,
            metadata={
                "skipped": due.reason,
                "next_due": _iso(due.next_due),
                "mode": config.mode,
            },
        )
    with ringcentral.client() as client:
        report = reconcile_source(
            client, ledger, source_id, mode=config.mode, sample_pages=config.sample_pages
        )
    return dg.AssetCheckResult(
        passed=report.ok,
        metadata={
            "mode": report.mode,
            "due_because": due.reason,
            "api_ids_checked": report.api_ids_checked,
            "archived_ids": report.archived_ids,
            "missing": len(report.missing),
            "missing_sample": dg.MetadataValue.json(report.missing[:20]),
            "not_due_yet": report.not_due,
            "incomplete": report.incomplete or "",
        },
    )


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _last_compared_at(context: dg.AssetCheckExecutionContext, partition: str) -> datetime | None:
    """When this check last really compared the partition with the API (skipped evaluations
    carry `skipped` in their metadata); None when unknown. Reads at most 50 of the check's
    latest evaluations of this partition from the instance's event log."""
    key = dg.AssetCheckKey(asset_key=contents.key, name="contents_reconciled")
    try:
        records = context.instance.event_log_storage.get_asset_check_execution_history(
            key,
            limit=50,
            status={
                AssetCheckExecutionRecordStatus.SUCCEEDED,
                AssetCheckExecutionRecordStatus.FAILED,
            },
            partition_filter=PartitionKeyFilter(key=partition),
        )
    except Exception:  # noqa: BLE001 - an unknown history means "due", never a failed check
        context.log.warning("could not read the reconcile history; comparing now", exc_info=True)
        return None
    for record in records:
        evaluation = _evaluation(record)
        if evaluation is None or "skipped" in (evaluation.metadata or {}):
            continue
        return datetime.fromtimestamp(record.create_timestamp, UTC)
    return None


def _evaluation(record) -> dg.AssetCheckEvaluation | None:
    event = record.event.dagster_event if record.event is not None else None
    data = event.event_specific_data if event is not None else None
    return data if isinstance(data, dg.AssetCheckEvaluation) else None


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
ARCHIVE_CHECKS = [
    contents_schema_valid,
    identities_schema_valid,
    agents_schema_valid,
    contents_reconciled,
    ledger_intact,
    attachments_complete,
]
