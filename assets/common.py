"""What every archive asset shares: the API pool, the retry policy, failing fast for people, and
the one decorator of a per-source table asset."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import dagster as dg

from assets.interrupt import stopping_at_batch_boundaries
from assets.partitions import sources_partitions
from assets.resources import ArchiveResource, RingCentralResource
from pipelines.archive import keys
from pipelines.archive.ledger import Ledger
from pipelines.archive.store import StoreWriteError
from pipelines.interrupts import StopRequested
from pipelines.ringcentral.errors import RingCentralError, TransportError
from pipelines.webhooks.planning import WEBHOOK_TAG
from schemas.ids import source_stream, validate_source_id
from schemas.tables import table_schema

# All API-bound steps share one concurrency pool, so parallel runs for many sources share the
# RingCentral rate limit (50 requests / 60 s per app+user) instead of fighting over it.
API_POOL = "ringcentral_api"
GROUP = "rc_archive"
# Run tag that turns a run into a full re-scan of its source (README, "Backfills").
FULL_REFRESH_TAG = "rc-archive/full-refresh"
# Metadata key of a fail-fast Failure: `needs_person` (a setting, credential, permission or
# disk to fix), `unreachable` (RingCentral or S3 gave no usable answer) or `interrupted` (a
# stop was requested: assets/interrupt.py); the runner reads it so `rc-archive run` can exit
# with the matching code.
ERROR_KIND = "rc_archive_error_kind"

# Transient failures (a dropped connection mid-crawl, an S3 5xx past botocore's retries) get
# another attempt; problems a person must fix, and a service that stayed unreachable through
# the client's own time-bounded retries, are raised with allow_retries=False below: retrying
# those only multiplied a one-minute wait into nine (up to 30 + 60 + 120 s of delays here).
TRANSIENT_RETRY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


Report = TypeVar("Report")


def source_of(context: dg.AssetExecutionContext) -> str:
    return validate_source_id(context.partition_key)


def sync_partition_source(
    context: dg.AssetExecutionContext,
    ringcentral: RingCentralResource,
    archive: ArchiveResource,
    sync: Callable[..., Report],
    **options: Any,
) -> tuple[Ledger, str, Report]:
    """(ledger, stream, report) of `sync(client, ledger, source_id, run_id=..., **options)`
    for the run's source, run as every API asset runs: failing fast for people, one client."""
    ledger = archive.ledger()
    source_id = source_of(context)
    with failing_fast_for_people(), ringcentral.client() as client:
        report = sync(client, ledger, source_id, run_id=context.run_id, **options)
    return ledger, source_stream(source_id), report


def wants_full_refresh(context: dg.AssetExecutionContext, configured: bool) -> bool:
    return configured or context.run.tags.get(FULL_REFRESH_TAG, "").lower() in ("1", "true")


def triggered_by_webhooks(context: dg.AssetExecutionContext) -> bool:
    """A run the `webhook_events` sensor launched (its tag counts the events it covers): the
    contents step then reads only the changes sweep (pipelines/sync/contents.py)."""
    return WEBHOOK_TAG in context.run.tags


@contextmanager
def failing_fast_for_people() -> Iterator[None]:
    """Auth and permission problems, a full or read-only archive disk, an S3 bucket that denies
    writes: none heals on retry (the retry policy would spend minutes), so fail once, saying
    what to fix. An API or S3 endpoint that stayed unreachable through the client's bounded
    retries fails once too: the next scheduled run is the retry. A stop request (Ctrl-C,
    SIGTERM, a cancelled run) ends the step at a batch boundary, once (assets/interrupt.py)."""
    try:
        with stopping_at_batch_boundaries():
            yield
    except StopRequested as stopped:
        raise dg.Failure(
            description=str(stopped),
            metadata={ERROR_KIND: "interrupted"},
            allow_retries=False,
        ) from None
    except StoreWriteError as error:
        if error.needs_person:
            raise dg.Failure(
                description=str(error),
                metadata={"store_error": str(error.code), ERROR_KIND: "needs_person"},
                allow_retries=False,
            ) from None
        raise
    except RingCentralError as error:
        if getattr(error, "needs_person", False):
            raise dg.Failure(
                description=f"RingCentral refused the request ({error.error_code}): {error}",
                metadata={
                    "error_code": str(error.error_code),
                    "http_status": error.status,
                    ERROR_KIND: "needs_person",
                },
                allow_retries=False,
            ) from None
        # Only no-response failures: 5xx bursts past the client's retries (ServerError) keep
        # the retry policy, which is what it is for.
        if isinstance(error, TransportError):
            raise dg.Failure(
                description=f"RingCentral API unreachable: {error}",
                metadata={"http_status": error.status, ERROR_KIND: "unreachable"},
                allow_retries=False,
            ) from None
        raise
    except Exception as error:
        if _is_s3_unreachable(error):
            raise dg.Failure(
                description=f"S3 endpoint unreachable: {error}; check AWS_ENDPOINT_URL",
                metadata={ERROR_KIND: "unreachable"},
                allow_retries=False,
            ) from None
        raise


def _is_s3_unreachable(error: BaseException) -> bool:
    """botocore's connection failures, which it has already retried S3_MAX_ATTEMPTS times.
    Looked up lazily: a local archive never imports botocore."""
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None:
        return False
    unreachable = (exceptions.EndpointConnectionError, exceptions.ConnectTimeoutError)
    return isinstance(error, unreachable)


def table_metadata(table: str, view: str) -> dict[str, object]:
    """Definition metadata the Dagster UI shows for an archived table: its column schema from
    the table's one declaration (type, nullability, the description auditors read in
    `docs/columns.md`), and the audit view that exposes it."""
    declared = table_schema(table)
    columns = [
        dg.TableColumn(
            name=column.name,
            type=str(column.type),
            description=column.description,
            constraints=dg.TableColumnConstraints(nullable=column.nullable),
        )
        for column in declared.columns
    ]
    return {"dagster/column_schema": dg.TableSchema(columns=columns), "view": view}


def stored_table_metadata(
    ledger: Ledger, ledger_table: str, table: str, stream: str
) -> dict[str, object]:
    """`dagster/row_count` (rows of the live committed files of `table` in this stream, as the
    audit views read them) and `dagster/uri` (where those files are). Reads the stream's ledger
    state, which the asset's run has loaded already: no extra object read."""
    files = ledger.state(ledger_table, stream).live_files(table)
    folder = keys.stream_folder(table, stream).rstrip("/")
    return {
        "dagster/row_count": sum(entry.rows for entry in files),
        "dagster/uri": ledger.store.uri_for(folder),
    }


def source_table_asset(
    *, description: str, metadata: dict[str, object] | None = None, deps: list | None = None
):
    """The decorator of an asset that archives one table of one source through the API.

    Why one decorator: every such table is partitioned by source, runs in the API pool with
    the transient-retry policy and has the same owners and kinds; a new table then differs from
    the others only in what it says and what it calls."""
    return dg.asset(
        deps=deps,
        partitions_def=sources_partitions,
        group_name=GROUP,
        metadata=metadata,
        owners=["team:compliance"],
        kinds={"python", "parquet"},
        pool=API_POOL,
        retry_policy=TRANSIENT_RETRY,
        description=description,
    )
