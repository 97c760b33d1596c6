"""ARCHIVE_URI checked for what a command will do with it, then opened.

Why before the library touches it: a directory that is a file, a path that cannot be created,
an `https://` typo or an S3 endpoint that does not answer are one line naming ARCHIVE_URI
within seconds, instead of botocore's long retries and a traceback. The store is opened
through retention (`open_governed_store`), so every writer locks what it writes for its
source's retention class.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cli.errors import UsageError
from pipelines import settings as names
from pipelines.settings import Settings

if TYPE_CHECKING:
    from pipelines.archive.store import ObjectStore

# The probe's tries: a refused endpoint is one line within seconds (the timeouts and the retry
# budget are those of every client: RC_ARCHIVE_CONNECT_TIMEOUT, _READ_TIMEOUT, _RETRY_BUDGET).
S3_PROBE_ATTEMPTS = 3


def open_store(settings: Settings) -> ObjectStore:
    """The archive to read, after checking it is there: a directory that exists, or an S3
    bucket that answers (probed with few, short tries)."""
    from pipelines.governance.retention import open_governed_store

    uri = _checked_uri(settings.archive_location, for_writing=False)
    store = open_governed_store(uri, settings)
    if uri.startswith("s3://"):
        probe_s3(uri, settings)
    return store


def open_writable_store(settings: Settings) -> ObjectStore:
    """The archive to write, after `check_writable`."""
    from pipelines.governance.retention import open_governed_store

    return open_governed_store(check_writable(settings), settings)


def check_writable(settings: Settings) -> str:
    """ARCHIVE_URI checked for writing; returns it. A directory is created when missing and
    must be writable by this user; an S3 archive's settings are checked (StoreConfigError
    names the setting) and its bucket must answer."""
    from pipelines.governance.retention import open_governed_store

    uri = _checked_uri(settings.archive_location, for_writing=True)
    if uri.startswith("s3://"):
        open_governed_store(uri, settings)
        probe_s3(uri, settings)
    return uri


def probe_s3(uri: str, settings: Settings) -> None:
    """HeadBucket with a short-fused client; its errors are classified by `cli.errors`."""
    from pipelines.archive.store import aws_client

    bucket = uri[len("s3://") :].partition("/")[0]
    client = aws_client("s3", settings.s3, settings.network, max_attempts=S3_PROBE_ATTEMPTS)
    client.head_bucket(Bucket=bucket)


def _checked_uri(uri: str, *, for_writing: bool) -> str:
    """`uri` checked for reading or writing (a local directory is created for writing)."""
    if uri.startswith("s3://"):
        return uri
    if "://" in uri:
        raise UsageError(f"{names.ARCHIVE_URI}={uri!r}: use a directory path or s3://bucket/prefix")
    if os.path.exists(uri) and not os.path.isdir(uri):
        raise UsageError(
            f"{names.ARCHIVE_URI}={uri!r} is a file, not a directory: point it at a directory "
            "(created if missing) or at s3://bucket/prefix"
        )
    if not for_writing:
        if not os.path.isdir(uri):
            raise UsageError(
                f"no archive at {uri!r}: run `rc-archive run` first or set {names.ARCHIVE_URI}"
            )
        return uri
    try:
        os.makedirs(uri, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"{names.ARCHIVE_URI}={uri!r} cannot be created: {error.strerror or error}; point "
            "it at a writable directory"
        ) from None
    if not os.access(uri, os.W_OK | os.X_OK):
        raise UsageError(f"{names.ARCHIVE_URI}={uri!r} is not writable: fix its permissions")
    return uri
