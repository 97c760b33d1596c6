"""`rc-archive`: archive runs and audit commands from the shell.

Every command reads its settings (RC_*, ARCHIVE_URI, AUDIT_DB, AWS_*) from the environment and
from `--env-file PATH` (the sandbox's file works as it is; values in the file win over the
environment, since naming a file is the more explicit choice).

Errors end the command with ONE line on stderr that names the cause and the setting to fix
(`--verbose` adds the full detail: tracebacks, Dagster's step log). Settings are checked, and
`run` logs in once, before Dagster starts, so a typo costs a second, not a run. Waits before
retries are announced on stderr ("RingCentral API unreachable (ConnectError), retry 2/5 in 4 s")
and the client's retries end within a minute, so a service that is down is reported quickly.

Exit codes (so scripts and schedulers can tell what to do next):

  0  ok
  1  a run or a check failed (see the summary), or an unexpected error
  2  bad settings or input: fix the named setting or argument (also credentials refused,
     a permission missing, an archive disk full or read-only)
  3  `verify` found tampering (findings of a tampering kind), or a certificate's signature
     does not verify (modified, or signed by another key)
  4  an external service is unreachable (RingCentral API, S3 endpoint): try again later
130  interrupted
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pipelines import settings as names
from pipelines.ringcentral.errors import RingCentralError
from pipelines.ringcentral.redaction import redact
from pipelines.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_TAMPERING = 3
EXIT_UNREACHABLE = 4
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """exit codes:
  0    ok
  1    a run or check failed, or an unexpected error
  2    bad settings or input (the message names the setting or argument to fix)
  3    verify found tampering
  4    an external service is unreachable (RingCentral API, S3 endpoint)
  130  interrupted
"""

EXAMPLES = {
    "run": "rc-archive run --env-file .demo/sandbox.env --source 65c3fdd9527bf900079cefcb",
    "sources": "rc-archive sources",
    "sql": 'rc-archive sql "SELECT source_type, count(*) FROM messages GROUP BY 1" --format csv'
    "\n  rc-archive sql --query customer_history --param identity_id=65c3fe1f527bf900079d0a25"
    "\n  rc-archive sql --list-queries\n  rc-archive sql -f report.sql\n  echo 'SELECT 1' | "
    "rc-archive sql -",
    "thread": "rc-archive thread 65c40163c092e4000768f688 --as-of 2026-11-01T12:00:00Z",
    "search": 'rc-archive search "cancel contract" --limit 10',
    "export": "rc-archive export --source 65c3fdd9527bf900079cefcb --format eml --out ./production",
    "verify": "rc-archive verify",
    "catalog": "rc-archive catalog",
    "reconcile": "rc-archive reconcile --source 65c3fdd9527bf900079cefcb",
    "compact": "rc-archive compact --source 65c3fdd9527bf900079cefcb --period 2026-10",
    "checkpoint": "rc-archive checkpoint",
    "keygen": "rc-archive keygen --out keys/attest.pem",
    "attest": "rc-archive attest --period 2026-11 --key keys/attest.pem --out certs/",
    "prove": "rc-archive prove 65c40163c092e4000768f688 --certificate cert.json > proof.json",
    "receive": "rc-archive receive --host 0.0.0.0 --port 8080  (behind an https proxy)",
    "subscribe": "RC_WEBHOOK_ADDRESS=https://archive.example.com/ rc-archive subscribe",
    "hold": "rc-archive hold place --matter acme-v-us --thread 65c40163c092e4000768f688 "
    '--reason "litigation hold, counsel 2026-11-02"\n  rc-archive hold list\n  '
    'rc-archive hold release --matter acme-v-us --reason "case closed"\n  rc-archive hold verify',
    "access": "rc-archive access verify",
    "disposition": "rc-archive disposition --as-of 2033-01-01 --retention retention.yaml\n  "
    "rc-archive disposition --as-of 2026-12-01 --retention retention.yaml --execute \\\n"
    '      --reason "retention schedule RS-4, approved by compliance 2026-11-30"',
    "review": "rc-archive review next --policy marketing-promises\n  "
    'rc-archive review decide 3f9a0c1e --decision cleared --note "standard offer, approved"\n  '
    "rc-archive review verify\n  "
    "rc-archive review rescan --policies policies.yaml --policy marketing-promises",
    "tables": "rc-archive tables\n  rc-archive tables --check\n  rc-archive tables --rebuild",
}


class UsageError(Exception):
    """Bad input from the person at the keyboard: printed as one line, exit code 2."""


class UnreachableError(Exception):
    """An external service (S3 endpoint) gave no answer: printed as one line, exit code 4."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    verbose = bool(getattr(args, "verbose", False))
    _show_retry_progress()
    try:
        _apply_env_file(args.env_file)
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`rc-archive thread ... | head`): what it read was complete.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:
        code, reason = _classify(error)
        if verbose:
            print(redact(traceback.format_exc()).rstrip(), file=sys.stderr)
        print(f"rc-archive {args.command}: {redact(reason)}", file=sys.stderr)
        return code


def _classify(error: BaseException) -> tuple[int, str]:
    """Exit code and one-line reason for an error that ended a command."""
    from pipelines.archive.store import StoreWriteError

    if isinstance(error, RingCentralError):
        if error.needs_person:
            code = EXIT_BAD_INPUT
        elif error.unreachable:
            code = EXIT_UNREACHABLE
        else:
            code = EXIT_FAILED
        return code, _first_line(error)
    if isinstance(error, UnreachableError):
        return EXIT_UNREACHABLE, _first_line(error)
    # An S3 request (boto3 or the views' DuckDB reads) that got no answer, also when another
    # error wraps it (the access trail's refusal, a witness that cannot be read): exit 4.
    from pipelines.archive.store import network_failure

    unreachable = network_failure(error)
    if unreachable is not None:
        return EXIT_UNREACHABLE, unreachable
    refused = sys.modules.get("pipelines.integrity.certificate")
    if refused is not None and isinstance(error, refused.CertificateRefused):
        return (EXIT_TAMPERING if error.tampering else EXIT_BAD_INPUT), _first_line(error)
    if isinstance(error, StoreWriteError):
        return (EXIT_BAD_INPUT if error.needs_person else EXIT_FAILED), _first_line(error)
    s3 = _s3_error(error)
    if s3 is not None:
        return s3
    dagster = sys.modules.get("dagster")
    if dagster is not None and isinstance(error, dagster.DagsterInvalidConfigError):
        unset = sorted(set(re.findall(r'environment variable "([A-Z0-9_]+)"', str(error))))
        if unset:
            return EXIT_BAD_INPUT, f"missing setting(s) {', '.join(unset)}: set them"
        return EXIT_BAD_INPUT, f"invalid Dagster configuration: {_first_line(error)}"
    if isinstance(error, _user_errors()):
        return EXIT_BAD_INPUT, _first_line(error)
    return (
        EXIT_FAILED,
        f"unexpected {type(error).__name__}: {_first_line(error)} (--verbose shows the traceback)",
    )


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _s3_error(error: BaseException) -> tuple[int, str] | None:
    """botocore's errors as one line naming the setting; None if `error` is not one. botocore
    is looked up lazily: a local archive never imports it."""
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None or not isinstance(
        error, exceptions.BotoCoreError | exceptions.ClientError
    ):
        return None
    endpoint = os.environ.get(names.AWS_ENDPOINT_URL) or "the AWS default endpoint"
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
    return EXIT_BAD_INPUT, f"S3 client error: {_first_line(error)}"


def _show_retry_progress() -> None:
    """Print the client's retry announcements on stderr, so a wait is never a silent terminal.

    The transport logs them on `pipelines.ringcentral.retry` (WARNING); here they get a handler
    of their own (not propagated, so no other handler prints them twice).
    """
    _log_to_stderr("pipelines.ringcentral.retry", "  %(message)s")


def _log_to_stderr(name: str, fmt: str) -> None:
    """The INFO records of logger `name` on stderr, through a handler of its own (not
    propagated, so no other handler prints them twice); added once."""
    logger = logging.getLogger(name)
    if any(getattr(h, "_rc_archive_cli", False) for h in logger.handlers):
        return
    handler = _StderrHandler()
    handler._rc_archive_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(fmt))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class _StderrHandler(logging.Handler):
    """Writes to the sys.stderr of the moment (tests swap it), not the one at creation."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:  # a closed stderr must not end the run
            self.handleError(record)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors shown as one line. DuckDB's count only once a command has loaded DuckDB, which
    `run` does only for its last step (its crawls run without DuckDB in memory)."""
    duckdb = sys.modules.get("duckdb")
    return (UsageError, ValueError, LookupError, OSError, *([duckdb.Error] if duckdb else []))


def _apply_env_file(path: str | None) -> None:
    if not path:
        return
    if not os.path.exists(path):
        raise UsageError(f"--env-file {path!r} does not exist")
    os.environ.update(names.load_env_file(path))


def _settings() -> Settings:
    """The settings, parsed from the environment (after --env-file) when a command needs them:
    a malformed value is one line naming the variable, and only for commands that read it."""
    return Settings.from_env(os.environ)


def _parse_time(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {text!r} is not a time; use ISO-8601, e.g. 2026-03-01T09:30:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- commands ---------------------------------------------------------------------------------


def _note_dagster_instance() -> None:
    """Without DAGSTER_HOME a run goes on a throwaway Dagster instance (assets/runner.py) that no
    UI reads: say so in one line, with how to make runs show in the UI. On stdout, with the
    command's own lines: stderr stays the one line of an error."""
    if not os.environ.get("DAGSTER_HOME"):
        print(
            "DAGSTER_HOME is not set, so this run uses a throwaway Dagster instance and will "
            "not show in the Dagster UI; to see it there, set DAGSTER_HOME to the UI's instance "
            "directory (`make dev`: .demo/dagster_home)",
            flush=True,
        )


def cmd_run(args: argparse.Namespace) -> int:
    sources = args.source or list(_settings().source_ids)
    if not sources:
        raise UsageError("no sources: pass --source ID or set RC_SOURCE_IDS")
    _check_run_settings()
    _note_dagster_instance()
    # Dagster is imported only now: everything a person can get wrong was checked above. The
    # code location's entry point tunes this process as it does the code server.
    import assets.code_location  # noqa: F401
    from assets.runner import run_sources
    from pipelines import interrupts
    from pipelines.progress import PROGRESS, ProgressReporter

    archive_uri = _settings().archive_uri
    print(f"archiving {len(sources)} source(s) into {archive_uri}", flush=True)
    # Progress on stderr (a live line on a terminal, else a `progress ...` line every
    # --progress-interval s); stdout keeps the command's own lines and the summary.
    reporter = ProgressReporter(PROGRESS, sys.stderr, interval=args.progress_interval)

    def announce(line: str) -> None:
        """The one line of an interrupt, written from the signal handler."""
        _write_now(f"{reporter.announce_prefix()}rc-archive run: {line}\n")

    interrupts.reset()
    # Ctrl-C or SIGTERM: stop at the next batch boundary, commit nothing partial, exit 130;
    # a second one exits at once (pipelines/interrupts.py).
    with interrupts.stop_on_signals(announce), reporter:
        summaries = run_sources(
            sources,
            full_refresh=args.full_refresh,
            reconcile_mode=args.reconcile,
            batch_records=args.batch_records,
            log_level="DEBUG" if args.verbose else "CRITICAL",
            on_progress=reporter.print,
        )
    if interrupts.stop_requested():
        return EXIT_INTERRUPTED
    print(_run_table(summaries))
    failed = [s for s in summaries if not s.success or s.checks_failed]
    for summary in failed:
        reason = summary.error or "check(s) failed: " + ", ".join(summary.checks_failed)
        print(f"rc-archive run: {summary.source_id}: {redact(reason)}", file=sys.stderr)
    kinds = {s.error_kind for s in failed}
    if "unreachable" in kinds:
        return EXIT_UNREACHABLE
    if "needs_person" in kinds:
        return EXIT_BAD_INPUT
    return EXIT_FAILED if failed else EXIT_OK


def _check_run_settings() -> None:
    """Everything `run` needs, checked before Dagster starts: the RingCentral settings (a
    missing RC_APP_CLIENT_ID is one line, not Dagster's config error), the archive (a file
    where a directory belongs, an unreachable S3 endpoint), the audit database's directory,
    and a login (wrong credentials or an API that is down end here, with the client's bounded
    retries announced on stderr). The steps then reuse the login's token."""
    from pipelines.ringcentral import ClientSettings
    from pipelines.ringcentral.shared import shared_client

    client_settings = ClientSettings.from_env(dict(os.environ))
    _check_archive(for_writing=True)
    audit_db = os.path.abspath(_settings().audit_db)
    if os.path.isdir(audit_db):
        raise UsageError(f"{names.AUDIT_DB}={audit_db!r} is a directory: name a file in it")
    if not os.path.isdir(os.path.dirname(audit_db)):
        raise UsageError(
            f"{names.AUDIT_DB}={audit_db!r}: directory {os.path.dirname(audit_db)!r} does not "
            "exist; create it or point AUDIT_DB elsewhere"
        )
    shared_client(client_settings).login()


def _write_now(text: str) -> None:
    """Write to stderr unbuffered (safe in a signal handler); a stream without a file
    descriptor (tests) gets an ordinary write."""
    try:
        descriptor = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        print(text, end="", file=sys.stderr, flush=True)
        return
    os.write(descriptor, text.encode("utf-8", "replace"))


def _run_table(summaries) -> str:
    rows = []
    for s in summaries:
        contents = s.metadata.get("contents", {})
        identities = s.metadata.get("identities", {})
        agents = s.metadata.get("agents", {})
        attachments = s.metadata.get("attachments", {})
        rows.append(
            (
                s.source_id,
                "ok" if s.success else "FAILED",
                contents.get("new_records", 0),
                contents.get("new_versions", 0),
                contents.get("quarantined", 0),
                contents.get("requests", 0),
                contents.get("files", 0),
                identities.get("new_versions", 0),
                agents.get("new_versions", 0),
                attachments.get("downloaded", 0),
                attachments.get("bytes", 0),
                round(float(contents.get("newest_message_age_seconds", 0.0)), 1),
                s.checks_status(),
            )
        )
    header = (
        "source_id",
        "run",
        "new",
        "versions",
        "quarantined",
        "requests",
        "files",
        "identities",
        "agents",
        "attachment_files",
        "attachment_bytes",
        "newest_age_s",
        "checks",
    )
    return _render(header, rows, "table")


def _render(header: Sequence[str], rows: list[tuple], fmt: str) -> str:
    from pipelines.query.formatting import render
    from pipelines.query.queries import QueryResult

    return render(QueryResult(list(header), rows), fmt)


def cmd_sources(args: argparse.Namespace) -> int:
    from pipelines.query.sources_status import sources_overview

    store = _open_store()
    header, rows = sources_overview(store)
    print(_render(header, rows, args.format))
    if args.format == "table":
        from pipelines.webhooks.subscription import latest_state

        state = latest_state(store)
        if state:
            print(
                f"webhook subscription {state.get('id')}: {state.get('status')}, expires "
                f"{state.get('expiresAt')} (last {state.get('action')} {state.get('recorded_at')})"
            )
    return 0


def cmd_receive(args: argparse.Namespace) -> int:
    token = os.environ.get(names.RC_WEBHOOK_VERIFICATION_TOKEN, "")
    if not token:
        raise UsageError(
            f"{names.RC_WEBHOOK_VERIFICATION_TOKEN} is not set: the secret `rc-archive "
            "subscribe` gives RingCentral, checked on every notification"
        )
    _check_archive(for_writing=True)
    from pipelines.governance.retention import open_governed_store
    from pipelines.webhooks.events import configured_witness
    from pipelines.webhooks.receiver import build_app, serve

    store = open_governed_store(_settings().archive_uri, dict(os.environ))
    witness = configured_witness(os.environ)  # each event witnessed before its 200
    # One line per event stored, refused or not stored (event name, source, key; no body).
    _log_to_stderr("pipelines.webhooks.receiver", "%(asctime)s %(message)s")
    print(
        f"receiving webhooks on http://{args.host}:{args.port}{args.path} into "
        f"{store.describe()}{f', witnessed in {witness.describe()}' if witness else ''} "
        "(Ctrl-C stops)",
        flush=True,
    )
    serve(build_app(store, token, path=args.path, witness=witness), args.host, args.port)
    return EXIT_OK


def cmd_subscribe(args: argparse.Namespace) -> int:
    from pipelines.ringcentral import ClientSettings, RingCentralClient
    from pipelines.webhooks.subscription import ensure_subscription

    address = args.address or (_settings().webhook_address or "")
    token = os.environ.get(names.RC_WEBHOOK_VERIFICATION_TOKEN, "")
    if not address:
        raise UsageError(f"no address: set {names.RC_WEBHOOK_ADDRESS} or pass --address")
    if not token:
        raise UsageError(f"{names.RC_WEBHOOK_VERIFICATION_TOKEN} is not set: choose a secret")
    client_settings = ClientSettings.from_env(dict(os.environ))
    _check_archive(for_writing=True)
    from pipelines.governance.retention import open_governed_store

    store = open_governed_store(_settings().archive_uri, dict(os.environ))
    with RingCentralClient(client_settings) as client:
        result = ensure_subscription(
            client, store, address=address, verification_token=token, force_renew=args.renew
        )
    sub = result.subscription or {}
    print(
        f"{result.action}: subscription {sub.get('id')} {sub.get('status')}, expires "
        f"{sub.get('expirationTime')} ({result.reason})"
    )
    return EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    if args.list_queries:
        print(_list_queries())
        return EXIT_OK
    from pipelines.query.audited import query_fields, run_audited

    audit_db = _audit_db()
    if args.describe:
        from pipelines.query.describe import describe_command

        details = {"arguments": {"describe": args.describe}, **query_fields(None)}
        print(
            run_audited(
                _catalog_trail(audit_db),
                "sql",
                details,
                lambda: (
                    describe_command(audit_db, args.describe, args.format, dict(os.environ)),
                    {"rows": None},
                ),
            )
        )
        return EXIT_OK
    from pipelines.query.formatting import CsvOptions
    from pipelines.query.sql import stream_sql

    sql, params = _sql_and_params(args)
    arguments: dict[str, str] = {"format": args.format}
    if args.format == "csv":
        arguments.update(null=args.null, formulas=args.formulas)
    details = {"arguments": arguments, **query_fields(sql, params, args.query_name)}
    # Streamed: rows are written as DuckDB produces them, in constant memory, after the
    # access event (pipelines/query/sql.py); `| head` ends it quietly (main()).
    renderer = stream_sql(
        _catalog_trail(audit_db),
        details,
        audit_db,
        sql,
        params,
        args.format,
        dict(os.environ),
        sys.stdout,
        csv=CsvOptions(null=args.null, formulas=args.formulas),
    )
    if renderer.neutralised:
        print(
            f"rc-archive sql: {renderer.neutralised} cell(s) starting with = + - @ tab or CR "
            "were written with a leading ' so a spreadsheet shows them as text "
            "(--formulas keep writes them as stored)",
            file=sys.stderr,
        )
    return EXIT_OK


def _catalog_trail(audit_db: str):
    """The access trail of the archive the catalog's views read (docs/governance.md)."""
    from pipelines.governance.access_trail import AccessTrail
    from pipelines.query.audited import catalog_archive

    return AccessTrail(catalog_archive(audit_db, dict(os.environ)), dict(os.environ))


def _sql_and_params(args: argparse.Namespace) -> tuple[str, list[str] | dict[str, str]]:
    """The SQL to run from exactly one of: the argument (`-` = stdin), `-f FILE`, `--query
    NAME` (the audit query pack, whose $name parameters are checked here so a missing one is
    named, not left to DuckDB's message)."""
    given = [x for x in (args.sql, args.file, args.query_name) if x is not None]
    if len(given) != 1:
        raise UsageError(
            "give one query: SQL text (or - for stdin), -f FILE or --query NAME "
            "(--list-queries shows the names)"
        )
    params = _parse_params(args.param)
    if args.query_name is not None:
        return _named_query(args.query_name, params)
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8") as handle:
                return handle.read(), params
        except OSError as error:
            raise UsageError(f"-f {args.file!r}: {error.strerror or error}") from None
    if args.sql == "-":
        return sys.stdin.read(), params
    return args.sql, params


def _named_query(name: str, params: list[str] | dict[str, str]) -> tuple[str, dict[str, str]]:
    from pipelines.query.queries import QUERY_PACK, like_term

    if name not in QUERY_PACK:
        raise UsageError(f"unknown query {name!r}; valid names: {', '.join(sorted(QUERY_PACK))}")
    sql = QUERY_PACK[name]
    wanted = _query_params(sql)
    if isinstance(params, list):
        if params:
            raise UsageError(f"query {name} takes named parameters: --param NAME=VALUE")
        params = {}
    missing = [p for p in wanted if p not in params]
    unknown = sorted(set(params) - set(wanted))
    if missing or unknown:
        need = " ".join(f"--param {p}=..." for p in wanted) or "no parameters"
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise UsageError(f"query {name}: {problem}; it takes {need}")
    if name == "term_search":
        # The pack binds the term through like_term so % and _ typed by a person match literally.
        params = {**params, "term": like_term(params["term"])}
    return sql, params


def _query_params(sql: str) -> list[str]:
    """The $name parameters of a query, in order of first use."""
    return list(dict.fromkeys(re.findall(r"\$([A-Za-z_]\w*)", sql)))


def _list_queries() -> str:
    from pipelines.query.queries import QUERY_PACK

    width = max(len(name) for name in QUERY_PACK)
    lines = []
    for name in sorted(QUERY_PACK):
        wanted = " ".join(f"--param {p}=..." for p in _query_params(QUERY_PACK[name]))
        lines.append(f"{name.ljust(width)}  {wanted}".rstrip())
    return "\n".join(lines)


def _parse_params(raw: list[str] | None) -> list[str] | dict[str, str]:
    """`--param value` binds $1, $2...; `--param name=value` binds $name (never formatted in)."""
    raw = raw or []
    if raw and all("=" in p and p.split("=", 1)[0].isidentifier() for p in raw):
        return dict(p.split("=", 1) for p in raw)
    return list(raw)


def cmd_thread(args: argparse.Namespace) -> int:
    from pipelines.catalog.connection import connect
    from pipelines.query.audited import query_fields, run_audited
    from pipelines.query.transcript import render_transcript, thread_transcript

    as_of = _parse_time(args.as_of, "--as-of")
    audit_db = _audit_db()
    details = {
        "arguments": {"thread_id": args.thread_id, "as_of": args.as_of},
        **query_fields(None, {"thread_id": args.thread_id, "as_of": args.as_of}),
    }

    def work() -> tuple[str, dict]:
        with connect(audit_db, dict(os.environ), read_only=True) as conn:
            lines = thread_transcript(conn, args.thread_id, as_of)
        return render_transcript(lines, args.thread_id, as_of), {"rows": len(lines)}

    print(run_audited(_catalog_trail(audit_db), "thread", details, work))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Ranked full-text search over every archived version (pipelines/query/search.py); an
    audited read like `sql`."""
    from dataclasses import astuple

    from pipelines.catalog.connection import connect
    from pipelines.query.audited import query_fields, run_audited
    from pipelines.query.search import (
        SearchError,
        bring_up_to_date,
        index_path,
        open_index,
        search,
    )

    audit_db = _audit_db()
    arguments = {"terms": args.terms, "limit": args.limit}
    details = {"arguments": arguments, **query_fields(None, arguments, "search")}

    def work() -> tuple[str, dict]:
        try:
            index = open_index(index_path(audit_db))
        except duckdb_errors() as exc:
            message = f"the search index {index_path(audit_db)} cannot be opened: {exc}"
            raise SearchError(message) from None
        # Refreshed first (rewritten after a disposition), so no disposed version is found.
        with connect(audit_db, dict(os.environ), read_only=True) as audit:
            index = bring_up_to_date(index_path(audit_db), audit, index)
        try:
            hits = search(index, args.terms, args.limit)
        finally:
            index.close()
        header = ["score", "creation_time", "source_id", "thread_id", "id", "record_sha256"]
        rows = [astuple(hit) for hit in hits]
        return _render([*header, "author_name", "snippet"], rows, args.format), {"rows": len(hits)}

    try:
        print(run_audited(_catalog_trail(audit_db), "search", details, work))
    except SearchError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def duckdb_errors() -> tuple[type[Exception], ...]:
    import duckdb

    return (duckdb.IOException, duckdb.BinderException)


def cmd_export(args: argparse.Namespace) -> int:
    from pipelines.catalog.connection import connect
    from pipelines.query.audited import audited_export, query_fields
    from pipelines.query.export import check_selection, export

    from_, to = _parse_time(args.from_, "--from"), _parse_time(args.to, "--to")
    # No selector is refused unless --all says so; a reversed period too (exit 2, nothing read).
    check_selection(args.source, args.thread, args.identity, from_, to, everything=args.all_)
    audit_db = _audit_db()
    filters = {
        "source": args.source,
        "thread": args.thread,
        "identity": args.identity,
        "from": args.from_,
        "to": args.to,
    }
    details = {
        "arguments": {"format": args.format, "out": args.out, "all": args.all_, **filters},
        **query_fields(None, filters),
    }

    def produce(staging):
        with connect(audit_db, dict(os.environ), read_only=True) as conn:
            return export(
                conn,
                staging,
                source=args.source,
                thread=args.thread,
                identity=args.identity,
                from_=from_,
                to=to,
                fmt=args.format,
            )

    result = audited_export(_catalog_trail(audit_db), details, args.out, produce)
    out = os.path.normpath(args.out)
    print(
        f"exported {result.rows} messages from {result.threads} threads as {args.format} "
        f"into {out}: {len(result.files)} files; load file {os.path.join(out, 'manifest.json')}"
    )
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from pipelines.catalog.build import build_catalog
    from pipelines.catalog.connection import plain_client_help

    report = build_catalog(_open_store(), _settings().audit_db, dict(os.environ))
    rows = ", ".join(f"{table} {count}" for table, count in sorted(report.rows_per_table.items()))
    print(f"rebuilt {report.audit_db} in {report.seconds:.1f} s ({report.manifests} manifests)")
    print(f"rows: {rows}")
    for line in plain_client_help(report.audit_db, report.archive_uri, dict(os.environ)):
        print(line)
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    """Iceberg tables of the committed state (docs/tables.md): refresh, or rebuild, then print
    how to read each table; with --check, compare them with the audit views (exit 1 if not)."""
    from pipelines.tables import check_tables, rebuild_tables, refresh_tables, tables_config
    from pipelines.tables.iceberg import duckdb_setup_help, reading_help

    store = _open_store()
    env = dict(os.environ)
    audit_db = _settings().audit_db
    config = tables_config(store, audit_db, env)
    build = rebuild_tables if args.rebuild else refresh_tables
    results = build(store, config)
    applied = sum(r.manifests for r in results)
    print(f"catalog {config.catalog_uri}: {applied} manifest(s) applied")
    if not args.check:
        print(duckdb_setup_help(config, env))
        for result in results:
            print(reading_help(config, result.table, result.metadata_location))
        return 0
    failed = 0
    for check in check_tables(config, _audit_db(), env, store):
        state = "ok" if check.ok else "DIFFERS"
        failed += not check.ok
        print(
            f"{check.table}: {state} (iceberg {check.iceberg_rows} rows, "
            f"{check.compared_with} {check.audit_rows}; missing {check.missing}, "
            f"extra {check.extra})"
        )
    if failed:
        print(f"{failed} table(s) differ; run `rc-archive catalog` if the views are older")
    return 1 if failed else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from pipelines.archive.verify import verify
    from pipelines.governance.holds import HoldAudit

    store = _open_store()
    witness_uri = args.witness or (_settings().witness_uri or "")
    certificates = _verify_certificates(args, store)  # refusals end here, before the walk
    witness = _witness_to_compare(witness_uri)  # fails closed: missing, empty, unreadable
    report = verify(store, retention=_retention_in_force(), holds=HoldAudit)
    from pipelines.webhooks.events import verify_events

    if witness is not None:
        from pipelines.integrity.witness import compare_with_witness

        report.findings.extend(compare_with_witness(store, witness))
    report.findings.extend(verify_events(store, witness))  # the webhook event log
    for check in certificates:
        report.findings.extend(check.findings)
    report.findings.sort(key=lambda f: (not f.tampering, f.kind, f.key))
    print(report.summary())
    if witness_uri:
        print(f"compared with witness {witness_uri}")
    elif not certificates:
        print(
            f"no witness ({names.ARCHIVE_WITNESS_URI} or --witness): verify cannot detect "
            "deleted history (truncation, a removed source) or a rewritten chain"
        )
    for check in certificates:
        body = check.body
        print(
            f"certificate {body['source_id']} {body['period']} (issued {body['issued_at']}): "
            f"{'holds' if check.ok else 'CHANGED'}; certified tree {body['merkle']['tree_size']}"
            f" versions, today {check.tree_size}"
        )
        print(f"  certified {_reconcile_line(body.get('reconcile'))}")
    if report.ok:
        return EXIT_OK
    tampering = [f for f in report.findings if f.tampering]
    kinds = sorted({f.kind for f in tampering})
    print(
        f"rc-archive verify: TAMPERING FOUND: {len(tampering)} finding(s) "
        f"({', '.join(kinds)}) in {report.store}",
        file=sys.stderr,
    )
    return EXIT_TAMPERING


def _witness_to_compare(uri: str):
    """The witness verify compares with (None without one). A location that is missing,
    empty or unreadable is an error (WitnessUnavailable, exit 2), never an intact archive."""
    if not uri:
        return None
    from pipelines.integrity.witness import open_witness

    return open_witness(uri, dict(os.environ))


def _configured_witness():
    """The witness of ARCHIVE_WITNESS_URI for a writer (None when unset): every manifest,
    checkpoint and log record the command writes is witnessed (docs/integrity.md)."""
    uri = _settings().witness_uri or ""
    if not uri:
        return None
    from pipelines.integrity.witness import Witness

    return Witness.open(uri, dict(os.environ))


def _retention_in_force():
    """ARCHIVE_RETENTION_CLASSES as a RetentionPolicy (None when unset): the floor verify
    holds each disposition's retention class to."""
    path = _settings().retention_classes_path or ""
    if not path:
        return None
    from pipelines.governance.retention import load_retention

    return load_retention(path)


def _verify_certificates(args: argparse.Namespace, store) -> list:
    """Each --certificate checked against the archive (signature first: a refusal is one
    line, exit 3 for a bad signature, 2 for a certificate of another archive)."""
    if not args.certificate:
        return []
    if not args.public_key:
        raise UsageError("--certificate needs --public-key KEY.pub (the key it was signed with)")
    from pipelines.archive.ledger import Ledger
    from pipelines.integrity.certificate import (
        load_certificate,
        load_public_key,
        verify_certificate,
    )

    public_key = load_public_key(args.public_key)
    ledger = Ledger(store)
    return [
        verify_certificate(ledger, load_certificate(path), public_key) for path in args.certificate
    ]


def cmd_keygen(args: argparse.Namespace) -> int:
    from pipelines.integrity.certificate import keygen

    # `--out keys/attest.pem` in a fresh checkout: the folder is made, private to its owner.
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), mode=0o700, exist_ok=True)
    private_path, public_path = keygen(args.out)
    print(f"private key {private_path} (mode 0600: keep it off the archive host)")
    print(f"public key  {public_path} (give it to whoever verifies certificates)")
    return EXIT_OK


def cmd_attest(args: argparse.Namespace) -> int:
    import json

    from pipelines.archive.ledger import Ledger
    from pipelines.integrity.certificate import attest, load_private_key
    from pipelines.integrity.report import write_html

    key = load_private_key(args.key)
    ledger = Ledger(_open_store())
    sources = _archived_sources(ledger, args.source)
    if not sources:
        raise UsageError("no archived source to attest: pass --source ID")
    out = args.out
    to_dir = out.endswith(os.sep) or os.path.isdir(out) or len(sources) > 1
    if to_dir:
        os.makedirs(out, exist_ok=True)
    facts = _reconcile_for_certificates(ledger, sources, skip=args.no_reconcile)
    for source_id in sources:
        signed = attest(ledger, source_id, args.period, key, reconcile=facts[source_id])
        path = os.path.join(out, f"{source_id}-{args.period}.json") if to_dir else out
        with open(path, "x", encoding="utf-8") as handle:
            json.dump(signed, handle, indent=1, sort_keys=True, ensure_ascii=False)
            handle.write("\n")
        body = signed["certificate"]
        counts = body["counts"]
        print(
            f"{path}: source {source_id} {args.period}: {counts['contents']['period']} contents "
            f"({counts['contents']['total']} in total), Merkle tree "
            f"{body['merkle']['tree_size']} versions, root {body['merkle']['root'][:16]}…"
        )
        print(f"  {_reconcile_line(body['reconcile'])}")
        print(f"  report {write_html(signed, path)}")
    return EXIT_OK


def _reconcile_for_certificates(ledger, sources: list[str], *, skip: bool) -> dict[str, dict]:
    """A full reconciliation of each source against the API now, for its certificate; none,
    said plainly in the certificate, with --no-reconcile or when no API credentials are set.
    Set but wrong credentials, or an API that is down, end the command (one line)."""
    from datetime import UTC, datetime

    from pipelines.integrity.certificate import no_reconcile, reconcile_fact
    from pipelines.ringcentral import ClientSettings, RingCentralClient
    from pipelines.sync.reconcile import reconcile_source

    credentials = (names.RC_APP_CLIENT_ID, names.RC_APP_CLIENT_SECRET, names.RC_USER_JWT)
    if skip:
        return {source_id: no_reconcile("--no-reconcile was given") for source_id in sources}
    if not any(os.environ.get(name) for name in credentials):
        reason = f"no API credentials were set ({', '.join(credentials)})"
        print(f"rc-archive attest: not reconciled against the API: {reason}", file=sys.stderr)
        return {source_id: no_reconcile(reason) for source_id in sources}
    facts: dict[str, dict] = {}
    with RingCentralClient(ClientSettings.from_env(dict(os.environ))) as client:
        for source_id in sources:
            report = reconcile_source(client, ledger, source_id, mode="full")
            facts[source_id] = reconcile_fact(report, datetime.now(UTC))
    return facts


def _reconcile_line(fact: dict | None) -> str:
    if not fact:
        return "reconcile: not recorded (certificate from an earlier release)"
    if not fact["performed"]:
        return f"reconcile: not performed ({fact['reason']})"
    verdict = "complete" if fact["complete"] else "NOT COMPLETE"
    return (
        f"reconcile at {fact['at']}: {verdict}; API listed {fact['api_ids_checked']} ids, "
        f"{fact['missing']} missing from the archive"
    )


def cmd_prove(args: argparse.Namespace) -> int:
    import json

    from pipelines.archive.ledger import Ledger
    from pipelines.governance.access_trail import AccessTrail
    from pipelines.integrity.certificate import load_certificate, load_public_key
    from pipelines.integrity.prove import prove
    from pipelines.query.audited import query_fields, run_audited

    store = _open_store()
    details = {
        "arguments": {"content_id": args.content_id, "certificate": args.certificate},
        **query_fields(None, {"content_id": args.content_id}),
    }

    def work() -> tuple[str, dict]:
        public_key = load_public_key(args.public_key) if args.public_key else None
        signed = load_certificate(args.certificate)
        proof = prove(Ledger(store), args.content_id, signed, public_key)
        text = json.dumps(proof, indent=1, sort_keys=True, ensure_ascii=False)
        return text, {"rows": len(proof.get("versions") or [])}

    print(run_audited(AccessTrail(store, dict(os.environ)), "prove", details, work))
    return EXIT_OK


def _writable_ledger():
    from pipelines.archive.ledger import Ledger
    from pipelines.governance.retention import open_governed_store

    uri = _check_archive(for_writing=True)
    if uri.startswith("s3://"):
        _probe_s3(uri)
    witness = None
    witness_uri = _settings().witness_uri or ""
    if witness_uri:
        from pipelines.integrity.witness import Witness

        witness = Witness.open(witness_uri, dict(os.environ))
    return Ledger(open_governed_store(uri, dict(os.environ)), witness=witness)


def _archived_sources(ledger, wanted: list[str] | None) -> list[str]:
    from schemas.ids import source_id_of_stream, validate_source_id

    if wanted:
        return [validate_source_id(source) for source in wanted]
    streams = ledger.streams("contents")
    return [s for s in (source_id_of_stream(stream) for stream in streams) if s]


def cmd_compact(args: argparse.Namespace) -> int:
    """Compact closed periods (all, or --period) of each source; the inputs are kept."""
    import uuid

    from pipelines.archive.compaction import compact_period, compact_source
    from pipelines.governance.holds import hold_compacted

    ledger = _writable_ledger()
    run_id = f"compact-{uuid.uuid4().hex[:12]}"
    rows = []
    for source_id in _archived_sources(ledger, args.source):
        if args.period:
            results = [compact_period(ledger, source_id, args.period, run_id)]
            ledger.write_checkpoint("contents", f"source_id={source_id}")
        else:
            results = compact_source(ledger, source_id, run_id)
        hold_compacted(ledger.store, [r.manifest for r in results], dict(os.environ))
        for result in results:
            rows.append(
                (
                    source_id,
                    result.period,
                    result.inputs,
                    result.rows,
                    result.manifest.key if result.manifest else "nothing to compact",
                )
            )
    print(_render(["source_id", "period", "input_files", "rows", "manifest"], rows, "table"))
    return EXIT_OK


def cmd_checkpoint(args: argparse.Namespace) -> int:
    """Write a checkpoint of every ledger of each source at its head (on demand)."""
    from pipelines.archive.keys import LEDGER_TABLES

    ledger = _writable_ledger()
    rows = []
    for source_id in _archived_sources(ledger, args.source):
        stream = f"source_id={source_id}"
        for table in LEDGER_TABLES:
            if ledger.head(table, stream) is None:
                continue
            checkpoint = ledger.write_checkpoint(table, stream)
            rows.append((source_id, table, checkpoint.seq, checkpoint.key))
    print(_render(["source_id", "ledger", "seq", "checkpoint"], rows, "table"))
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace) -> int:
    from pipelines.archive.ledger import Ledger
    from pipelines.ringcentral import ClientSettings, RingCentralClient
    from pipelines.sync.reconcile import reconcile_source
    from schemas.ids import validate_source_id

    ledger = Ledger(_open_store())
    exit_code = 0
    with RingCentralClient(ClientSettings.from_env(dict(os.environ))) as client:
        for source in args.source:
            report = reconcile_source(client, ledger, validate_source_id(source), mode=args.mode)
            status = "complete" if report.ok else f"NOT PROVEN, {len(report.missing)} missing"
            print(
                f"{report.source_id}: {status} — {report.api_ids_checked} API ids checked, "
                f"{report.archived_ids} archived ids compared, "
                f"{report.not_due} newer than the last run"
            )
            if report.incomplete:
                print(f"  incomplete: {report.incomplete}")
            for missing_id in report.missing:
                print(f"  missing {missing_id}")
            exit_code = exit_code or (0 if report.ok else 1)
    return exit_code


def cmd_hold(args: argparse.Namespace) -> int:
    """Legal holds (pipelines/governance/holds.py): place and release write a record to
    `_holds/` and set or clear the S3 Object Lock legal hold; list reads the records."""
    from pipelines.governance import holds

    if args.hold_action == "list":
        store = _open_store()
        audit = holds.HoldAudit(store)
        rows = holds.list_holds(store, audit)
        header = ["matter", "status", "since", "by", "objects", "reason"]
        print(_render(header, rows, args.format))
        if audit.tampering:
            print(
                f"rc-archive hold: the hold records are not intact ({len(audit.tampering)} "
                "finding(s)); matters whose records are gone are listed from the hold journal; "
                "run `rc-archive hold verify`",
                file=sys.stderr,
            )
        return EXIT_OK
    if args.hold_action == "verify":
        return _hold_verify(args)
    uri = _check_archive(for_writing=True)
    from pipelines.governance.retention import open_governed_store

    store = open_governed_store(uri, dict(os.environ))
    if args.hold_action == "place":
        content_ids = _held_by_query(args.query) if args.query else None
        selector = holds.Selector(
            source=args.source,
            thread=args.thread,
            identity=args.identity,
            from_=_parse_time(args.from_, "--from"),
            to=_parse_time(args.to, "--to"),
            content_ids=content_ids,
            query=args.query,
        )
        from pipelines.query.selection import held_objects

        held = held_objects(_audit_db(), dict(os.environ), selector)
        record = holds.place_hold(store, dict(os.environ), args.matter, selector, args.reason, held)
        body = record.body
        how = "legal hold ON" if body["lock_applied"] else "recorded (a directory cannot lock)"
        print(f"held {len(body['object_keys'])} objects for {args.matter}: {how}; {record.key}")
        return EXIT_OK
    record = holds.release_hold(store, dict(os.environ), args.matter, args.reason)
    body = record.body
    print(
        f"released {args.matter}: hold OFF on {len(body['released_keys'])} objects, "
        f"{len(body['kept_keys'])} kept for other matters; {record.key}"
    )
    return EXIT_OK


def _hold_verify(args: argparse.Namespace) -> int:
    """`hold verify`: every hold record against the hold journal, and the journal against the
    witness (--witness or ARCHIVE_WITNESS_URI, failing closed); exit 3 on tampering. `verify`
    runs the same audit (and the witness part with its own --witness)."""
    from pipelines.governance.holds import HoldAudit

    store = _open_store()
    uri = args.witness or (_settings().witness_uri or "")
    witness = _witness_to_compare(uri)
    audit = HoldAudit(store, witness=witness)
    for finding in sorted(audit.findings, key=lambda f: (not f.tampering, f.kind, f.key)):
        print(f"  {finding.kind}: {finding.key}: {finding.detail}")
    if audit.tampering:
        kinds = ", ".join(sorted({f.kind for f in audit.tampering}))
        print(
            f"rc-archive hold: TAMPERING FOUND: {len(audit.tampering)} finding(s) ({kinds}) in "
            f"the hold records of {store.describe()}",
            file=sys.stderr,
        )
        return EXIT_TAMPERING
    against = f", compared with witness {uri}" if witness is not None else ", no witness"
    print(
        f"hold records intact: {audit.records} records, {audit.journal_entries} journal "
        f"entries in {store.describe()}{against}"
    )
    return EXIT_OK


def _held_by_query(sql: str) -> tuple[str, ...]:
    """The message ids a `hold place --query` selects: its SQL runs read-only on the catalog,
    as an audited read, and must return an `id` column (messages.id / contents.id)."""
    from pipelines.catalog.connection import connect
    from pipelines.query.audited import query_fields, run_audited
    from pipelines.query.formatting import check_read_only
    from pipelines.query.queries import run_query

    audit_db = _audit_db()
    found: list[str] = []

    def work() -> tuple[str, dict]:
        check_read_only(sql)  # inside: a refused query is logged like any other
        conn = connect(audit_db, dict(os.environ), read_only=True)
        try:
            result = run_query(conn, sql)
        finally:
            conn.close()
        if "id" not in result.columns:
            raise UsageError(
                f"--query must return an `id` column of message ids; it returned "
                f"{', '.join(result.columns)}"
            )
        column = result.columns.index("id")
        found.extend(sorted({str(row[column]) for row in result.rows if row[column]}))
        return "", {"rows": len(result.rows)}

    details = {"arguments": {"hold": "place"}, **query_fields(sql, None, "hold place --query")}
    run_audited(_catalog_trail(audit_db), "hold", details, work)
    if not found:
        raise UsageError("--query returned no message id: nothing to hold")
    return tuple(found)


REVIEW_NEXT = """
SELECT record_sha256 AS flag_id, creation_time, source_type, direction, agent_name, policy,
       kind, matched, excerpt, content_id
FROM review_queue
WHERE ($policy IS NULL OR policy = $policy) AND NOT list_contains($decided, record_sha256)
ORDER BY creation_time DESC, policy, flag_id
LIMIT $limit
"""

FLAG_BY_ID = """
SELECT record_sha256, content_id, content_sha256, source_id, policy, kind
FROM flags WHERE starts_with(record_sha256, $flag) ORDER BY record_sha256 LIMIT 2
"""


def cmd_review(args: argparse.Namespace) -> int:
    """Supervision review (pipelines/governance/review.py): `next` lists undecided flags (an
    audited read), `decide` records a decision write-once in `_reviews/`, `verify` replays the
    decisions' hash chain."""
    from pipelines.governance import review

    if args.review_action == "verify":
        store = _open_store()
        count, findings = review.review_log(store).verify()
        for finding in findings:
            print(f"  {finding}")
        if findings:
            print(
                f"rc-archive review: TAMPERING FOUND: {len(findings)} finding(s) in the review "
                f"decisions of {store.describe()}",
                file=sys.stderr,
            )
            return EXIT_TAMPERING
        print(f"review decisions intact: {count} decisions in {store.describe()}")
        return EXIT_OK
    if args.review_action == "rescan":
        return _rescan(args)
    audit_db = _audit_db()
    if args.review_action == "report":
        return _supervision_report(audit_db, args.out)
    if args.review_action == "next":
        from pipelines.query.audited import query_fields, run_audited
        from pipelines.query.sql import sql_command

        if args.limit < 1:
            raise UsageError("--limit must be at least 1")
        # Decisions stored since the catalog was built leave the queue at once, not only after
        # the next `rc-archive catalog` (query/review_queue.py).
        from pipelines.query.audited import catalog_archive
        from pipelines.query.review_queue import decided_since_catalog

        env = dict(os.environ)
        decided = decided_since_catalog(catalog_archive(audit_db, env), audit_db, env)
        params = {"policy": args.policy, "limit": args.limit, "decided": decided}
        details = query_fields(REVIEW_NEXT, params, "review next")

        def work() -> tuple[str, dict[str, Any]]:
            text, rows = sql_command(audit_db, REVIEW_NEXT, params, args.format, dict(os.environ))
            return text, {"rows": rows}

        print(run_audited(_catalog_trail(audit_db), "review", details, work))
        return EXIT_OK
    flag = _flag(audit_db, args.flag_id)
    from pipelines.query.audited import catalog_archive

    store = catalog_archive(audit_db, dict(os.environ))
    record = review.record_decision(store, flag, args.decision, args.note, dict(os.environ))
    print(
        f"{args.decision} flag {flag['record_sha256'][:16]} ({flag['policy']}, message "
        f"{flag['content_id']}); {record.key}"
    )
    return EXIT_OK


def _supervision_report(audit_db: str, out: str | None) -> int:
    """Store today's supervision report in the archive (write-once) and, with --out, copy it;
    an audited read like `review next`."""
    from pipelines.query.audited import catalog_archive, run_audited
    from pipelines.query.supervision_report import store_report

    env = dict(os.environ)
    store = catalog_archive(audit_db, env)

    def work() -> tuple[str, dict[str, Any]]:
        report = store_report(store, audit_db, env)
        if out:
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(report.html)
        how = "stored" if report.written else "already stored today"
        copied = f"; copied to {out}" if out else ""
        return f"supervision report {how} at {report.key}{copied}", {"rows": None}

    print(run_audited(_catalog_trail(audit_db), "review", {"arguments": {"report": out}}, work))
    return EXIT_OK


def _flag(audit_db: str, flag_id: str) -> dict[str, Any]:
    """The flag whose id (record_sha256) starts with `flag_id` (at least 8 hex digits)."""
    from pipelines.catalog.connection import connect
    from pipelines.query.queries import run_query

    flag_id = flag_id.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,64}", flag_id):
        raise UsageError(f"flag id {flag_id!r}: give at least 8 hex digits of flags.record_sha256")
    conn = connect(audit_db, dict(os.environ), read_only=True)
    try:
        result = run_query(conn, FLAG_BY_ID, {"flag": flag_id})
    finally:
        conn.close()
    rows = result.as_dicts()
    if not rows:
        raise UsageError(
            f"no flag {flag_id} in the catalog; `rc-archive review next` lists them (run "
            "`rc-archive catalog` first if the flag is new)"
        )
    if len(rows) > 1:
        raise UsageError(f"flag id {flag_id} is ambiguous: give more of its digits")
    return rows[0]


def _rescan(args: argparse.Namespace) -> int:
    """`review rescan`: flag the archived history with a policy (pipelines/governance/rescan.py)."""
    import uuid
    from dataclasses import astuple

    from pipelines.archive.ledger import ConcurrentCommitError, Ledger
    from pipelines.governance.policies import load_policies
    from pipelines.governance.rescan import choose_policies, rescan

    path = args.policies or os.environ.get("ARCHIVE_POLICIES")
    if not path:
        raise UsageError("give --policies FILE (or set ARCHIVE_POLICIES)")
    policies = choose_policies(load_policies(path), args.policy)
    run_id = f"rescan-{uuid.uuid4().hex[:12]}"
    try:
        ledger = Ledger(_open_store(), witness=_configured_witness())  # a writer
        results = rescan(ledger, policies, run_id, args.source)
    except ConcurrentCommitError as exc:
        raise UsageError(f"{exc} (a re-scan is safe to run again)") from None
    header = ["source_id", "files", "versions", "flags_found", "flags_committed"]
    print(_render(header, [astuple(r) for r in results], args.format))
    return EXIT_OK


def cmd_disposition(args: argparse.Namespace) -> int:
    """Report which archived files are past retention and not held, per source and month, as
    of a date (pipelines/governance/retention.py); with --execute, dispose of exactly those
    (pipelines/governance/disposition.py): exit 1 when an object could not be deleted."""
    from dataclasses import astuple

    from pipelines.archive.ledger import Ledger
    from pipelines.governance.retention import as_of_time, disposition_report, load_retention

    try:
        as_of = as_of_time(args.as_of)
    except ValueError:
        raise UsageError(f"--as-of {args.as_of!r}: expected an ISO-8601 date") from None
    policy = load_retention(args.retention)
    store = _open_store()
    if not args.execute:
        ledger = Ledger(store)
        rows = disposition_report(ledger, policy, as_of, _source_types())
        header = ["source_id", "source_type", "period", "retention_years", "files", "rows"]
        print(_render([*header, "status"], [astuple(row) for row in rows], args.format))
        return EXIT_OK
    import uuid

    from pipelines.governance.disposition import execute_disposition
    from pipelines.governance.holds import HoldsTampered

    ledger = Ledger(store, witness=_configured_witness())  # a writer: through the witness
    if not (args.reason or "").strip():
        raise UsageError("--execute needs --reason (it is recorded with the disposition)")
    source_types = _source_types()
    if policy.channel_types and not source_types:
        raise UsageError(
            "the retention classes name channel types, and there is no audit catalog to tell "
            "each source's type: run `rc-archive catalog` first (nothing was deleted)"
        )
    try:
        outcomes = execute_disposition(
            ledger,
            policy,
            as_of,
            source_types,
            reason=args.reason.strip(),
            env=dict(os.environ),
            run_id=f"disposition-{uuid.uuid4().hex[:12]}",
        )
    except HoldsTampered as exc:
        print(f"rc-archive disposition: {exc}", file=sys.stderr)
        return EXIT_TAMPERING
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    header = ["source_id", "key", "rows", "objects", "result"]
    print(_render(header, [astuple(outcome) for outcome in outcomes], args.format))
    refused = [o for o in outcomes if o.result.startswith("refused")]
    failed = False
    if any(o.result in ("deleted", "finished") for o in outcomes):
        failed = _purge_derived_copies(ledger.store)
    return EXIT_FAILED if refused or failed else EXIT_OK


# Flags (with an excerpt) of versions `contents` no longer holds: disposed versions, whose
# flags stay in the committed flags files of their batches (docs/governance.md).
_KEPT_FLAG_EXCERPTS = """
SELECT f.source_id, count(*) FROM internal._src_flags AS f
ANTI JOIN contents AS c
    ON c.source_id = f.source_id AND c.id = f.content_id AND c.record_sha256 = f.content_sha256
WHERE f.excerpt IS NOT NULL
GROUP BY f.source_id ORDER BY f.source_id
"""


def _purge_derived_copies(store) -> bool:
    """After a disposition: the copies of message text outside the contents files follow it.
    The audit catalog is rebuilt (its views stop reading the deleted files; `flags` and
    `review_queue` drop the disposed versions' flags) and the search index next to it is
    rewritten without them. Each copy that could not be purged is one line on stderr; True
    when the catalog or the index could not be (exit 1), as their text is still readable
    through rc-archive. Flag excerpts in the archive's own committed flags files cannot be
    deleted by a disposition (it deletes contents files): they are listed, not failed on."""
    from pipelines.catalog.build import build_catalog
    from pipelines.catalog.connection import connect
    from pipelines.query.search import SearchError, index_path, purge_index

    audit_db = _settings().audit_db
    if not os.path.exists(audit_db):
        return False  # no catalog, and so no search index next to it
    prefix = "rc-archive disposition: derived copy not purged:"
    try:
        build_catalog(store, audit_db, dict(os.environ))
    except Exception as exc:  # noqa: BLE001 (any failure: the copies keep the text)
        print(
            f"{prefix} the audit catalog {audit_db} and its search index "
            f"{index_path(audit_db)} ({_first_line(exc)}); run `rc-archive catalog`, then "
            "`rc-archive search` rewrites the index",
            file=sys.stderr,
        )
        return True
    failed = False
    with connect(audit_db, dict(os.environ), read_only=True) as audit:
        try:
            purge_index(index_path(audit_db), audit, wait_seconds=30)
        except (SearchError, *duckdb_errors()) as exc:
            print(
                f"{prefix} the search index {index_path(audit_db)} ({_first_line(exc)}); the "
                "next `rc-archive search` rewrites it",
                file=sys.stderr,
            )
            failed = True
        kept = audit.execute(_KEPT_FLAG_EXCERPTS).fetchall()
    for source_id, count in kept:
        print(
            f"{prefix} {count} flag excerpt(s) of disposed versions of source {source_id} stay "
            "in its committed flags files (a disposition deletes contents files); the flags "
            "and review_queue views no longer show them",
            file=sys.stderr,
        )
    return failed


def _source_types() -> dict[str, str | None]:
    """source id -> channel type, from the audit catalog when there is one ({} otherwise: then
    only source ids and the default retention apply)."""
    from pipelines.catalog.connection import connect

    try:
        audit_db = _audit_db()
    except UsageError:
        return {}
    conn = connect(audit_db, dict(os.environ), read_only=True)
    try:
        sql = "SELECT source_id, any_value(source_type) FROM contents GROUP BY 1"
        return dict(conn.execute(sql).fetchall())
    finally:
        conn.close()


def cmd_access(args: argparse.Namespace) -> int:
    """`access verify`: replay the access trail's chain; exit 3 when it is broken."""
    from pipelines.governance.access_trail import verify_trail

    store = _open_store()
    count, findings = verify_trail(store)
    for finding in findings:
        print(f"  {finding}")
    if findings:
        print(
            f"rc-archive access: TAMPERING FOUND: {len(findings)} finding(s) in the access "
            f"trail of {store.describe()}",
            file=sys.stderr,
        )
        return EXIT_TAMPERING
    print(f"access trail intact: {count} events in {store.describe()}")
    return EXIT_OK


def _open_store():
    """The archive to read, after checking it is there: a directory that exists, or an S3
    bucket that answers (probed with few, short tries, so an unreachable endpoint is one line
    within seconds instead of botocore's long retries and a traceback)."""
    from pipelines.governance.retention import open_governed_store

    uri = _check_archive(for_writing=False)
    store = open_governed_store(uri, dict(os.environ))
    if uri.startswith("s3://"):
        _probe_s3(uri)
    return store


def _check_archive(*, for_writing: bool) -> str:
    """ARCHIVE_URI checked for what the command will do with it; returns the URI."""
    from pipelines.governance.retention import open_governed_store

    uri = _settings().archive_uri
    if uri.startswith("s3://"):
        if for_writing:
            open_governed_store(uri, dict(os.environ))  # StoreConfigError names the setting
            _probe_s3(uri)
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


# The probe's tries: a refused endpoint is one line within seconds (the timeouts and the retry
# budget are those of every client: RC_ARCHIVE_CONNECT_TIMEOUT, _READ_TIMEOUT, _RETRY_BUDGET).
S3_PROBE_ATTEMPTS = 3


def _probe_s3(uri: str) -> None:
    """HeadBucket with a short-fused client; errors are classified by `_classify`."""
    from pipelines.archive.store import aws_client

    bucket = uri[len("s3://") :].partition("/")[0]
    aws_client("s3", dict(os.environ), max_attempts=S3_PROBE_ATTEMPTS).head_bucket(Bucket=bucket)


def _audit_db() -> str:
    path = _settings().audit_db
    if not os.path.exists(path):
        raise UsageError(
            f"no audit database at {path!r}: run `rc-archive run` (it rebuilds the views) "
            "or set AUDIT_DB"
        )
    return path


# -- argument parsing -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that answers a mistyped command, subcommand or choice with the nearest valid
    one ("did you mean 'hold'?"), still as a usage error (exit 2)."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            choices = [str(choice) for choice in action.choices]
            nearest = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
            if nearest:
                raise argparse.ArgumentError(
                    action,
                    f"invalid choice: {value!r}; did you mean {nearest[0]!r}? "
                    f"(choose from {', '.join(choices)})",
                )
        super()._check_value(action, value)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rc-archive",
        description="Compliance archive for RingCentral Social Messaging.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rc-archive {_version()}")
    verbose_help = "full detail on errors (tracebacks) and Dagster's step-by-step log"
    parser.add_argument("--verbose", "-v", action="store_true", help=verbose_help)
    env_file_help = "KEY=value settings file (its values win over the environment)"
    parser.add_argument("--env-file", metavar="PATH", help=env_file_help)
    # Both also accepted after every command and subcommand (`rc-archive hold --env-file F
    # place ...`, `... hold place --env-file F`): SUPPRESS keeps a level that was not given
    # them from resetting what an outer level was given.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env-file", metavar="PATH", default=argparse.SUPPRESS, help=env_file_help)
    common.add_argument(
        "--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=verbose_help
    )
    output = {"choices": ["table", "csv", "json"], "default": "table", "help": "format (table)"}
    sub = parser.add_subparsers(
        dest="command", help="the command; `rc-archive COMMAND --help` shows its options"
    )

    def add(name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(
            name,
            parents=[common],
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {EXAMPLES[name]}\n\n{EXIT_CODES_HELP}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.set_defaults(handler=handler)
        return command

    run = add("run", cmd_run, "Archive sources now (same assets as the scheduled runs).")
    run.add_argument(
        "--source", action="append", help="source id (repeatable); default RC_SOURCE_IDS"
    )
    run.add_argument("--full-refresh", action="store_true", help="re-read sources from the start")
    run.add_argument(
        "--reconcile",
        choices=["full", "sample"],
        default="sample",
        help="compare every id the API lists with the archive, or a sample (sample)",
    )
    run.add_argument("--batch-records", type=int, help="records per committed batch (20000)")
    run.add_argument(
        "--progress-interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds between progress lines when stderr is not a terminal (15)",
    )

    sources = add(
        "sources", cmd_sources, "List archived sources with their cursor and capture lag."
    )
    sources.add_argument("--format", **output)

    sql = add("sql", cmd_sql, "Run a read-only SQL query over the audit views.")
    sql.add_argument("sql", nargs="?", metavar="SQL", help="the query text; - reads it from stdin")
    sql.add_argument("--query", dest="query_name", metavar="NAME", help="a query of the pack")
    sql.add_argument("-f", "--file", metavar="FILE", help="read the query from FILE")
    sql.add_argument("--list-queries", action="store_true", help="list the query pack's names")
    sql.add_argument("--describe", metavar="VIEW", help="a view's columns, types and meaning")
    sql.add_argument(
        "--param", action="append", help="bound parameter: VALUE for $1.. or NAME=VALUE"
    )
    sql.add_argument(
        "--format",
        choices=["table", "csv", "json", "jsonl"],
        default="table",
        help="table: aligned for reading, cells cut at 60 characters, aligned per block of "
        "1,000 rows (a wider block repeats the header); csv, json, jsonl: every value whole. "
        "Rows are written as they come, in constant memory",
    )
    sql.add_argument(
        "--null",
        default="",
        metavar="TEXT",
        help="csv: how a NULL is written (default: an empty unquoted field; an empty string is "
        'always written as "", and a string equal to TEXT is quoted)',
    )
    sql.add_argument(
        "--formulas",
        choices=["quote", "keep"],
        default="quote",
        help="csv: quote (default) writes a text cell starting with = + - @ tab or CR with a "
        "leading ' so a spreadsheet shows it as text, and says how many on stderr; keep writes "
        "it as stored",
    )

    thread = add(
        "thread", cmd_thread, "Print a conversation as a transcript, as it stood at a time."
    )
    thread.add_argument("thread_id", help="the thread's id (messages.thread_id)")
    thread.add_argument("--as-of", help="ISO-8601 time (default: now)")

    search_cmd = add(
        "search", cmd_search, "Ranked full-text search over every archived message version."
    )
    search_cmd.add_argument("terms", help="words to find (any of them; best matches first)")
    search_cmd.add_argument("--limit", type=int, default=20, help="most hits shown (20)")
    search_cmd.add_argument("--format", **output)

    export_cmd = add("export", cmd_export, "Produce messages for eDiscovery, with a load file.")
    export_cmd.add_argument("--source", help="a source's messages")
    export_cmd.add_argument("--thread", help="a thread's messages")
    export_cmd.add_argument("--identity", help="every thread an identity wrote in")
    export_cmd.add_argument(
        "--from", dest="from_", metavar="TIME", help="messages created from (ISO-8601)"
    )
    export_cmd.add_argument("--to", metavar="TIME", help="messages created before (ISO-8601)")
    export_cmd.add_argument(
        "--all",
        action="store_true",
        dest="all_",
        help="every archived message (asked for explicitly: without a selector above, export "
        "refuses)",
    )
    export_cmd.add_argument(
        "--format",
        choices=["csv", "jsonl", "eml", "rsmf"],
        default="csv",
        help="csv, jsonl, eml (one per thread) or rsmf (one per thread) (csv)",
    )
    export_cmd.add_argument(
        "--out", required=True, metavar="DIR", help="a new or empty directory for the production"
    )

    verify_cmd = add("verify", cmd_verify, "Check every committed file and the manifest chain.")
    verify_cmd.add_argument(
        "--witness", metavar="URI", help="witness store to compare with (ARCHIVE_WITNESS_URI)"
    )
    verify_cmd.add_argument(
        "--certificate",
        action="append",
        metavar="CERT.json",
        help="also prove the archive still holds what this certificate certified (repeatable)",
    )
    verify_cmd.add_argument("--public-key", metavar="KEY.pub", help="the certificates' key")

    keygen_cmd = add("keygen", cmd_keygen, "Create an Ed25519 key pair to sign certificates.")
    keygen_cmd.add_argument("--out", required=True, metavar="KEY", help="private key (KEY.pub)")
    attest_cmd = add(
        "attest",
        cmd_attest,
        "Write a signed certificate (and an HTML report) of what the archive holds per source.",
    )
    attest_cmd.add_argument(
        "--period", required=True, metavar="YYYY-MM", help="the month (UTC) to certify"
    )
    attest_cmd.add_argument("--source", action="append", help="source id (repeatable)")
    attest_cmd.add_argument("--key", required=True, metavar="KEY", help="Ed25519 private key")
    attest_cmd.add_argument(
        "--out", required=True, help="certificate file (one source) or directory"
    )
    attest_cmd.add_argument(
        "--no-reconcile",
        action="store_true",
        help="do not reconcile against the API (the certificate then says so)",
    )
    prove_cmd = add(
        "prove", cmd_prove, "Print a message's version hashes with proofs against a certificate."
    )
    prove_cmd.add_argument("content_id", help="the message's id (messages.id)")
    prove_cmd.add_argument(
        "--certificate", required=True, metavar="CERT.json", help="the certificate to prove against"
    )
    prove_cmd.add_argument("--public-key", metavar="KEY.pub", help="check the signature first")
    add("catalog", cmd_catalog, "Rebuild the audit views (runs do this after archiving).")
    tables_cmd = add(
        "tables",
        cmd_tables,
        "Refresh the Iceberg tables of the committed state; show how to read them.",
    )
    tables_mode = tables_cmd.add_mutually_exclusive_group()
    tables_mode.add_argument(
        "--check", action="store_true", help="compare each table with the audit views (exit 1)"
    )
    tables_mode.add_argument(
        "--rebuild", action="store_true", help="recreate the catalog's tables from the ledger"
    )

    compact = add(
        "compact",
        cmd_compact,
        "Rewrite a closed day's or month's small contents files into one file per source.",
    )
    compact.add_argument("--source", action="append", help="source id (repeatable); default all")
    compact.add_argument(
        "--period",
        help="YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH (closed); default: every closed one",
    )
    checkpoint = add(
        "checkpoint", cmd_checkpoint, "Write a ledger checkpoint of each source at its head."
    )
    checkpoint.add_argument("--source", action="append", help="source id (repeatable)")

    receive = add(
        "receive",
        cmd_receive,
        "Receive RingCentral webhooks: each notification is stored in the archive's event log.",
    )
    receive.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    receive.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    receive.add_argument("--path", default="/", help="URL path RingCentral POSTs to (/)")
    subscribe = add(
        "subscribe",
        cmd_subscribe,
        "Create, renew or re-create the webhook subscription (RC_WEBHOOK_ADDRESS).",
    )
    subscribe.add_argument(
        "--address", help="the receiver's public URL; default RC_WEBHOOK_ADDRESS"
    )
    subscribe.add_argument("--renew", action="store_true", help="renew even if not due yet")

    hold = add("hold", cmd_hold, "Place, release or list legal holds on archived records.")
    hold_sub = hold.add_subparsers(dest="hold_action", required=True, help="what to do")
    place = hold_sub.add_parser(
        "place", parents=[common], help="hold every object holding the selected records"
    )
    place.add_argument("--matter", required=True, help="the legal matter's name")
    place.add_argument("--source", help="hold a source's records")
    place.add_argument("--thread", help="hold a thread's messages")
    place.add_argument("--identity", help="hold an identity and the messages it wrote")
    place.add_argument(
        "--query", help="hold the messages whose ids this read-only SQL returns (column `id`)"
    )
    place.add_argument("--from", dest="from_", help="creation time from (ISO-8601)")
    place.add_argument("--to", help="creation time before (ISO-8601)")
    place.add_argument("--reason", required=True, help="why (kept with the hold record)")
    release = hold_sub.add_parser("release", parents=[common], help="end a matter's hold")
    release.add_argument("--matter", required=True, help="the legal matter's name")
    release.add_argument("--reason", required=True, help="why (kept with the release record)")
    hold_list = hold_sub.add_parser("list", parents=[common], help="every matter with its status")
    hold_list.add_argument("--format", **output)
    hold_verify = hold_sub.add_parser(
        "verify",
        parents=[common],
        help="check every hold record against the hold journal (and the witness)",
    )
    hold_verify.add_argument(
        "--witness", metavar="URI", help="witness store to compare with (ARCHIVE_WITNESS_URI)"
    )
    review = add("review", cmd_review, "Work the supervision review queue (policies.yaml flags).")
    review_sub = review.add_subparsers(dest="review_action", required=True, help="what to do")
    review_next = review_sub.add_parser(
        "next", parents=[common], help="the undecided flags, newest first"
    )
    review_next.add_argument("--policy", help="only this policy's flags")
    review_next.add_argument("--limit", type=int, default=20, help="most flags shown (20)")
    review_next.add_argument("--format", **output)
    decide = review_sub.add_parser(
        "decide", parents=[common], help="record a decision on one flag (write-once)"
    )
    decide.add_argument("flag_id", help="the flag's id (flags.record_sha256, 8+ hex digits)")
    decide.add_argument(
        "--decision",
        required=True,
        choices=["cleared", "escalated"],
        help="cleared (nothing wrong) or escalated (to compliance)",
    )
    decide.add_argument("--note", required=True, help="why (kept with the decision)")
    review_sub.add_parser("verify", parents=[common], help="replay the decisions' hash chain")
    rescan_cmd = review_sub.add_parser(
        "rescan",
        parents=[common],
        help="apply policies to the messages archived before them (new flags only)",
    )
    rescan_cmd.add_argument("--policies", help="policies.yaml (default: ARCHIVE_POLICIES)")
    rescan_cmd.add_argument("--policy", action="append", help="only this policy (repeatable)")
    rescan_cmd.add_argument("--source", action="append", help="only this source (repeatable)")
    rescan_cmd.add_argument("--format", **output)
    report = review_sub.add_parser(
        "report",
        parents=[common],
        help="store today's supervision report (HTML) in the archive, write-once",
    )
    report.add_argument("--out", help="also write a copy to this file")
    disposition = add(
        "disposition",
        cmd_disposition,
        "Report what is past retention and not held; --execute deletes exactly that.",
    )
    disposition.add_argument("--as-of", required=True, help="the date to judge retention at")
    disposition.add_argument("--retention", required=True, help="retention.yaml")
    disposition.add_argument(
        "--execute",
        action="store_true",
        help="delete the eligible files (recorded first in each source's ledger; not after "
        "today; held or locked files are kept and listed)",
    )
    disposition.add_argument("--reason", help="why (recorded with the disposition)")
    disposition.add_argument("--format", **output)
    access = add("access", cmd_access, "Check the access trail (who read the archive).")
    access_sub = access.add_subparsers(dest="access_action", required=True, help="what to do")
    access_sub.add_parser("verify", parents=[common], help="replay the trail's hash chain")

    reconcile = add("reconcile", cmd_reconcile, "Compare the ids the API lists with the archive.")
    reconcile.add_argument(
        "--source", action="append", required=True, help="source id (repeatable)"
    )
    reconcile.add_argument(
        "--mode",
        choices=["full", "sample"],
        default="full",
        help="every id the API lists, or a sample (full)",
    )
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rc-archive")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
