"""What an error that ends a command means: its exit code and its one line on stderr.

Exit codes (so scripts and schedulers can tell what to do next):

  0  ok
  1  a run or a check failed (see the summary), or an unexpected error
  2  bad settings or input: fix the named setting or argument (also credentials refused,
     a permission missing, an archive disk full or read-only)
  3  `verify` found tampering (findings of a tampering kind), or a certificate's signature
     does not verify (modified, or signed by another key)
  4  an external service is unreachable (RingCentral API, S3 endpoint): try again later
130  interrupted

Why one place: every command raises what its library raises, and `classify` (called by
`cli.main` only) turns it into the code and the line, so a kind of error means the same exit
code whichever command met it. Third-party error types (botocore, DuckDB, Dagster) are looked
up in `sys.modules`: a command that never loaded them never pays for importing them here.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from pipelines import settings as names
from pipelines.ringcentral.errors import RingCentralError
from pipelines.settings import NetworkTimeouts, S3Access, SettingError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_TAMPERING = 3
EXIT_UNREACHABLE = 4
EXIT_INTERRUPTED = 130

# The epilog of `rc-archive --help` and of every command's --help.
EXIT_CODES_HELP = """exit codes:
  0    ok
  1    a run or check failed, or an unexpected error
  2    bad settings or input (the message names the setting or argument to fix)
  3    verify found tampering
  4    an external service is unreachable (RingCentral API, S3 endpoint)
  130  interrupted
"""


class UsageError(Exception):
    """Bad input from the person at the keyboard: printed as one line, exit code 2."""


class UnreachableError(Exception):
    """An external service (S3 endpoint) gave no answer: printed as one line, exit code 4."""


def classify(error: BaseException, env: Mapping[str, str]) -> tuple[int, str]:
    """Exit code and one-line reason for an error that ended a command (`env`: the environment
    the command ran with, for naming the S3 endpoint and the timeouts in force; read leniently,
    since a malformed setting may be the very error classified here)."""
    from pipelines.archive.store import StoreWriteError, network_failure

    if isinstance(error, RingCentralError):
        if error.needs_person:
            code = EXIT_BAD_INPUT
        elif error.unreachable:
            code = EXIT_UNREACHABLE
        else:
            code = EXIT_FAILED
        return code, first_line(error)
    if isinstance(error, UnreachableError):
        return EXIT_UNREACHABLE, first_line(error)
    # An S3 request (boto3 or the views' DuckDB reads) that got no answer, also when another
    # error wraps it (the access trail's refusal, a witness that cannot be read): exit 4.
    unreachable = network_failure(error, _timeouts_in_force(env), S3Access.from_env(env))
    if unreachable is not None:
        return EXIT_UNREACHABLE, unreachable
    refused = sys.modules.get("pipelines.integrity.certificate")
    if refused is not None and isinstance(error, refused.CertificateRefused):
        return (EXIT_TAMPERING if error.tampering else EXIT_BAD_INPUT), first_line(error)
    if isinstance(error, StoreWriteError):
        return (EXIT_BAD_INPUT if error.needs_person else EXIT_FAILED), first_line(error)
    s3 = _s3_error(error, env)
    if s3 is not None:
        return s3
    dagster = sys.modules.get("dagster")
    if dagster is not None and isinstance(error, dagster.DagsterInvalidConfigError):
        unset = sorted(set(re.findall(r'environment variable "([A-Z0-9_]+)"', str(error))))
        if unset:
            return EXIT_BAD_INPUT, f"missing setting(s) {', '.join(unset)}: set them"
        return EXIT_BAD_INPUT, f"invalid Dagster configuration: {first_line(error)}"
    if isinstance(error, _user_errors()):
        return EXIT_BAD_INPUT, first_line(error)
    return (
        EXIT_FAILED,
        f"unexpected {type(error).__name__}: {first_line(error)} (--verbose shows the traceback)",
    )


def first_line(error: BaseException) -> str:
    """The first non-blank line of an error's message (its type's name when it has none)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def duckdb_open_errors() -> tuple[type[Exception], ...]:
    """DuckDB's errors of a database file that cannot be opened or read as expected (a search
    index locked by another process, or written by another release)."""
    import duckdb

    return (duckdb.IOException, duckdb.BinderException)


def _timeouts_in_force(env: Mapping[str, str]) -> NetworkTimeouts:
    """The timeouts the command's clients had (the defaults when the environment's are
    malformed: then no client was built and sent anything)."""
    try:
        return NetworkTimeouts.from_env(env)
    except SettingError:
        return NetworkTimeouts()


def _s3_error(error: BaseException, env: Mapping[str, str]) -> tuple[int, str] | None:
    """botocore's errors as one line naming the setting; None if `error` is not one. botocore
    is looked up lazily: a local archive never imports it."""
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None or not isinstance(
        error, exceptions.BotoCoreError | exceptions.ClientError
    ):
        return None
    endpoint = S3Access.from_env(env).endpoint_url or "the AWS default endpoint"
    unreachable = (
        exceptions.EndpointConnectionError,
        exceptions.ConnectTimeoutError,
        exceptions.ReadTimeoutError,
    )
    if isinstance(error, unreachable):
        return EXIT_UNREACHABLE, (
            f"S3 endpoint {endpoint} unreachable ({type(error).__name__}); "
            f"check {names.AWS_ENDPOINT_URL} and the network"
        )
    if isinstance(error, exceptions.NoCredentialsError):
        return EXIT_BAD_INPUT, (
            f"no S3 credentials: set {names.AWS_ACCESS_KEY_ID} and {names.AWS_SECRET_ACCESS_KEY}"
        )
    if isinstance(error, exceptions.ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        code = error.response.get("Error", {}).get("Code", "")
        if status >= 500:
            return EXIT_UNREACHABLE, (
                f"S3 endpoint {endpoint} answered HTTP {status} {code} after retries; "
                f"check {names.AWS_ENDPOINT_URL}"
            )
        return EXIT_BAD_INPUT, (
            f"S3 refused the request: HTTP {status} {code}; check {names.ARCHIVE_URI}, "
            f"{names.AWS_ACCESS_KEY_ID} and {names.AWS_SECRET_ACCESS_KEY}"
        )
    return EXIT_BAD_INPUT, f"S3 client error: {first_line(error)}"


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors shown as one line. DuckDB's count only once a command has loaded DuckDB, which
    `run` does only for its last step (its crawls run without DuckDB in memory)."""
    duckdb = sys.modules.get("duckdb")
    return (UsageError, ValueError, LookupError, OSError, *([duckdb.Error] if duckdb else []))
