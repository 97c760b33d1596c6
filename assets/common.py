"""What every archive asset shares: the API pool, the retry policy, failing fast for people."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from pipelines.archive.store import StoreWriteError
from pipelines.ringcentral.errors import RingCentralError
from schemas.ids import validate_source_id

# All API-bound steps share one concurrency pool, so parallel runs for many sources share the
# RingCentral rate limit (50 requests / 60 s per app+user) instead of fighting over it.
API_POOL = "ringcentral_api"
GROUP = "rc_archive"
# Run tag that turns a run into a full re-scan of its source (README, "Backfills").
FULL_REFRESH_TAG = "rc-archive/full-refresh"

# Transient failures (network, 5xx bursts past the client's own retries, S3 hiccups) get
# another attempt; problems a person must fix are raised with allow_retries=False below.
TRANSIENT_RETRY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def source_of(context: dg.AssetExecutionContext) -> str:
    return validate_source_id(context.partition_key)


def wants_full_refresh(context: dg.AssetExecutionContext, configured: bool) -> bool:
    return configured or context.run.tags.get(FULL_REFRESH_TAG, "").lower() in ("1", "true")


@contextmanager
def failing_fast_for_people() -> Iterator[None]:
    """Auth and permission problems, a full or read-only archive disk, an S3 bucket that denies
    writes: none heals on retry (the retry policy would spend minutes), so fail once, saying
    what to fix."""
    try:
        yield
    except StoreWriteError as error:
        if error.needs_person:
            raise dg.Failure(
                description=str(error),
                metadata={"store_error": str(error.code)},
                allow_retries=False,
            ) from None
        raise
    except RingCentralError as error:
        if getattr(error, "needs_person", False):
            raise dg.Failure(
                description=f"RingCentral refused the request ({error.error_code}): {error}",
                metadata={"error_code": str(error.error_code), "http_status": error.status},
                allow_retries=False,
            ) from None
        raise
