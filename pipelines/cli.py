"""`rc-archive`: archive runs and audit commands from the shell.

Every command reads its settings (RC_*, ARCHIVE_URI, AUDIT_DB, AWS_*) from the environment and
from `--env-file PATH` (the sandbox's file works as it is; values in the file win over the
environment, since naming a file is the more explicit choice). Bad input ends with a one-line
reason and exit code 2; a failed run or check with exit code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pipelines import settings as names
from pipelines.ringcentral.errors import RingCentralError

EXAMPLES = {
    "run": "rc-archive run --env-file .demo/sandbox.env --source 65c3fdd9527bf900079cefcb",
    "sources": "rc-archive sources",
    "sql": 'rc-archive sql "SELECT source_type, count(*) FROM messages GROUP BY 1" --format csv',
    "thread": "rc-archive thread 65c40163c092e4000768f688 --as-of 2026-11-01T12:00:00Z",
    "export": "rc-archive export --source 65c3fdd9527bf900079cefcb --format eml --out ./production",
    "verify": "rc-archive verify",
    "catalog": "rc-archive catalog",
    "reconcile": "rc-archive reconcile --source 65c3fdd9527bf900079cefcb",
}


class UsageError(Exception):
    """Bad input from the person at the keyboard: printed as one line, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        _apply_env_file(args.env_file)
        return args.handler(args)
    except RingCentralError as error:
        print(f"rc-archive {args.command}: {error}", file=sys.stderr)
        return 1
    except _user_errors() as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        print(f"rc-archive {args.command}: {first_line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


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


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


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


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.partitions import configured_source_ids
    from pipelines.runner import run_sources

    sources = args.source or configured_source_ids(os.environ.get(names.RC_SOURCE_IDS))
    if not sources:
        raise UsageError("no sources: pass --source ID or set RC_SOURCE_IDS")
    archive_uri = _env(names.ARCHIVE_URI, names.DEFAULT_ARCHIVE_URI)
    print(f"archiving {len(sources)} source(s) into {archive_uri}")
    summaries = run_sources(
        sources,
        full_refresh=args.full_refresh,
        reconcile_mode=args.reconcile,
        batch_records=args.batch_records,
        log_level="DEBUG" if args.verbose else "WARNING",
        on_progress=lambda line: print(line, flush=True),
    )
    print(_run_table(summaries))
    failed = [s for s in summaries if not s.success or not all(s.checks.values())]
    for summary in failed:
        reason = summary.error or ", ".join(k for k, ok in summary.checks.items() if not ok)
        print(f"  {summary.source_id}: {reason}", file=sys.stderr)
    return 1 if failed else 0


def _run_table(summaries) -> str:
    rows = []
    for s in summaries:
        contents = s.metadata.get("contents", {})
        identities = s.metadata.get("identities", {})
        agents = s.metadata.get("agents", {})
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
                round(float(contents.get("capture_lag_seconds", 0.0)), 1),
                "pass" if s.checks and all(s.checks.values()) else "FAIL",
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
        "lag_s",
        "checks",
    )
    return _render(header, rows, "table")


def _render(header: Sequence[str], rows: list[tuple], fmt: str) -> str:
    from pipelines.audit.formatting import render
    from pipelines.audit.queries import QueryResult

    return render(QueryResult(list(header), rows), fmt)


def cmd_sources(args: argparse.Namespace) -> int:
    from pipelines.sync.status import sources_overview

    header, rows = sources_overview(_open_store())
    print(_render(header, rows, args.format))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from pipelines.audit.formatting import sql_command

    params = _parse_params(args.param)
    print(sql_command(_audit_db(), args.query, params, args.format, dict(os.environ)))
    return 0


def _parse_params(raw: list[str] | None) -> list[str] | dict[str, str]:
    """`--param value` binds $1, $2...; `--param name=value` binds $name (never formatted in)."""
    raw = raw or []
    if raw and all("=" in p and p.split("=", 1)[0].isidentifier() for p in raw):
        return dict(p.split("=", 1) for p in raw)
    return list(raw)


def cmd_thread(args: argparse.Namespace) -> int:
    from pipelines.audit.connection import connect
    from pipelines.audit.transcript import render_transcript, thread_transcript

    as_of = _parse_time(args.as_of, "--as-of")
    with connect(_audit_db(), dict(os.environ), read_only=True) as conn:
        lines = thread_transcript(conn, args.thread_id, as_of)
    print(render_transcript(lines, args.thread_id, as_of))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pipelines.audit.connection import connect
    from pipelines.audit.export import export

    with connect(_audit_db(), dict(os.environ), read_only=True) as conn:
        result = export(
            conn,
            args.out,
            source=args.source,
            thread=args.thread,
            identity=args.identity,
            from_=_parse_time(args.from_, "--from"),
            to=_parse_time(args.to, "--to"),
            fmt=args.format,
        )
    print(
        f"exported {result.rows} messages from {result.threads} threads as {args.format} "
        f"into {result.out_dir}: {len(result.files)} files; load file {result.manifest_path}"
    )
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from pipelines.audit.catalog import build_catalog

    report = build_catalog(
        _open_store(), _env(names.AUDIT_DB, names.DEFAULT_AUDIT_DB), dict(os.environ)
    )
    rows = ", ".join(f"{table} {count}" for table, count in sorted(report.rows_per_table.items()))
    print(f"rebuilt {report.audit_db} in {report.seconds:.1f} s ({report.manifests} manifests)")
    print(f"rows: {rows}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from pipelines.archive.verify import verify

    report = verify(_open_store())
    print(report.summary())
    return 0 if report.ok else 1


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


def _open_store():
    from pipelines.archive.store import open_store

    uri = _env(names.ARCHIVE_URI, names.DEFAULT_ARCHIVE_URI)
    if "://" not in uri and not os.path.isdir(uri):
        raise UsageError(f"no archive at {uri!r}: run `rc-archive run` first or set ARCHIVE_URI")
    return open_store(uri, dict(os.environ))


def _audit_db() -> str:
    path = _env(names.AUDIT_DB, names.DEFAULT_AUDIT_DB)
    if not os.path.exists(path):
        raise UsageError(
            f"no audit database at {path!r}: run `rc-archive run` (it rebuilds the views) "
            "or set AUDIT_DB"
        )
    return path


# -- argument parsing -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rc-archive",
        description="Compliance archive for RingCentral Social Messaging.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env-file", metavar="PATH", help="KEY=value settings file")
    sub = parser.add_subparsers(dest="command")

    def add(name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(
            name,
            parents=[common],
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {EXAMPLES[name]}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.set_defaults(handler=handler)
        return command

    run = add("run", cmd_run, "Archive sources now (same assets as the scheduled runs).")
    run.add_argument(
        "--source", action="append", help="source id (repeatable); default RC_SOURCE_IDS"
    )
    run.add_argument("--full-refresh", action="store_true", help="re-read sources from the start")
    run.add_argument("--reconcile", choices=["full", "sample"], default="sample")
    run.add_argument("--batch-records", type=int, help="records per committed batch (20000)")
    run.add_argument("--verbose", action="store_true", help="show Dagster's step-by-step log")

    sources = add(
        "sources", cmd_sources, "List archived sources with their cursor and capture lag."
    )
    sources.add_argument("--format", choices=["table", "csv", "json"], default="table")

    sql = add("sql", cmd_sql, "Run a read-only SQL query over the audit views.")
    sql.add_argument("query")
    sql.add_argument(
        "--param", action="append", help="bound parameter: VALUE for $1.. or NAME=VALUE"
    )
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")

    thread = add(
        "thread", cmd_thread, "Print a conversation as a transcript, as it stood at a time."
    )
    thread.add_argument("thread_id")
    thread.add_argument("--as-of", help="ISO-8601 time (default: now)")

    export_cmd = add("export", cmd_export, "Produce messages for eDiscovery, with a load file.")
    export_cmd.add_argument("--source")
    export_cmd.add_argument("--thread")
    export_cmd.add_argument("--identity")
    export_cmd.add_argument("--from", dest="from_")
    export_cmd.add_argument("--to")
    export_cmd.add_argument("--format", choices=["csv", "jsonl", "eml"], default="csv")
    export_cmd.add_argument("--out", required=True)

    add("verify", cmd_verify, "Check every committed file and the manifest chain.")
    add("catalog", cmd_catalog, "Rebuild the audit views (runs do this after archiving).")

    reconcile = add("reconcile", cmd_reconcile, "Compare the ids the API lists with the archive.")
    reconcile.add_argument("--source", action="append", required=True)
    reconcile.add_argument("--mode", choices=["full", "sample"], default="full")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
