"""Access-logged reads of the audit catalog: `sql`, `thread`, `search`, `export`.

Each leaves its access event in the archive's access trail before its answer reaches the
reader (pipelines/query/access_logged.py); the catalog is opened read-only by construction. The
library is imported inside each handler: it loads DuckDB, pyarrow and pandas, which `--help`,
a typo or `run`'s crawls must not pay for.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import astuple
from pathlib import Path
from typing import Any

from cli.arguments import add_output_format, parse_time
from cli.command import Command
from cli.context import Context
from cli.errors import EXIT_OK, UsageError, duckdb_open_errors
from cli.output import render_rows
from cli.sql_input import list_queries, sql_and_params

# -- sql ----------------------------------------------------------------------------------------


def _sql_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sql", nargs="?", metavar="SQL", help="the query text; - reads it from stdin"
    )
    parser.add_argument("--query", dest="query_name", metavar="NAME", help="a query of the pack")
    parser.add_argument("-f", "--file", metavar="FILE", help="read the query from FILE")
    parser.add_argument("--list-queries", action="store_true", help="list the query pack's names")
    parser.add_argument("--describe", metavar="VIEW", help="a view's columns, types and meaning")
    parser.add_argument(
        "--param", action="append", help="bound parameter: VALUE for $1.. or NAME=VALUE"
    )
    parser.add_argument(
        "--format",
        choices=["table", "csv", "json", "jsonl"],
        default="table",
        help="table: aligned for reading, cells cut at 60 characters, aligned per block of "
        "1,000 rows (a wider block repeats the header); csv, json, jsonl: every value whole. "
        "Rows are written as they come, in constant memory",
    )
    parser.add_argument(
        "--null",
        default="",
        metavar="TEXT",
        help="csv: how a NULL is written (default: an empty unquoted field; an empty string is "
        'always written as "", and a string equal to TEXT is quoted)',
    )
    parser.add_argument(
        "--formulas",
        choices=["quote", "keep"],
        default="quote",
        help="csv: quote (default) writes a text cell starting with = + - @ tab or CR with a "
        "leading ' so a spreadsheet shows it as text, and says how many on stderr; keep writes "
        "it as stored",
    )


def _sql(ctx: Context, args: argparse.Namespace) -> int:
    if args.list_queries:
        print(list_queries())
        return EXIT_OK
    from pipelines.query.access_logged import query_fields, run_logged
    from pipelines.query.describe import describe_command
    from pipelines.query.formatting import CsvOptions
    from pipelines.query.sql import stream_sql

    audit_db = ctx.require_audit_db()
    if args.describe:
        details = {"arguments": {"describe": args.describe}, **query_fields(None)}
        print(
            run_logged(
                ctx.catalog_trail(audit_db),
                "sql",
                details,
                lambda: (
                    describe_command(audit_db, args.describe, args.format, ctx.settings),
                    {"rows": None},
                ),
            )
        )
        return EXIT_OK
    sql, params = sql_and_params(args)
    arguments: dict[str, str] = {"format": args.format}
    if args.format == "csv":
        arguments.update(null=args.null, formulas=args.formulas)
    details = {"arguments": arguments, **query_fields(sql, params, args.query_name)}
    # Streamed: rows are written as DuckDB produces them, in constant memory, after the
    # access event (pipelines/query/sql.py); `| head` ends it quietly (cli.main).
    renderer = stream_sql(
        ctx.catalog_trail(audit_db),
        details,
        audit_db,
        sql,
        params,
        args.format,
        ctx.settings,
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


SQL = Command(
    name="sql",
    help="Run a read-only SQL query over the audit views.",
    example='rc-archive sql "SELECT source_type, count(*) FROM messages GROUP BY 1" --format csv'
    "\n  rc-archive sql --query customer_history --param identity_id=65c3fe1f527bf900079d0a25"
    "\n  rc-archive sql --list-queries\n  rc-archive sql -f report.sql\n  echo 'SELECT 1' | "
    "rc-archive sql -",
    add_arguments=_sql_arguments,
    run=_sql,
)

# -- thread -------------------------------------------------------------------------------------


def _thread_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("thread_id", help="the thread's id (messages.thread_id)")
    parser.add_argument("--as-of", help="ISO-8601 time (default: now)")


def _thread(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.catalog.connection import connect
    from pipelines.query.access_logged import query_fields, run_logged
    from pipelines.query.transcript import render_transcript, thread_transcript

    as_of = parse_time(args.as_of, "--as-of")
    audit_db = ctx.require_audit_db()
    details = {
        "arguments": {"thread_id": args.thread_id, "as_of": args.as_of},
        **query_fields(None, {"thread_id": args.thread_id, "as_of": args.as_of}),
    }

    def work() -> tuple[str, dict[str, Any]]:
        with connect(audit_db, ctx.settings, read_only=True) as conn:
            lines = thread_transcript(conn, args.thread_id, as_of)
        return render_transcript(lines, args.thread_id, as_of), {"rows": len(lines)}

    print(run_logged(ctx.catalog_trail(audit_db), "thread", details, work))
    return EXIT_OK


THREAD = Command(
    name="thread",
    help="Print a conversation as a transcript, as it stood at a time.",
    example="rc-archive thread 65c40163c092e4000768f688 --as-of 2026-11-01T12:00:00Z",
    add_arguments=_thread_arguments,
    run=_thread,
)

# -- search -------------------------------------------------------------------------------------

SEARCH_HEADER = ["score", "creation_time", "source_id", "thread_id", "id", "record_sha256"]


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("terms", help="words to find (any of them; best matches first)")
    parser.add_argument("--limit", type=int, default=20, help="most hits shown (20)")
    add_output_format(parser)


def _search(ctx: Context, args: argparse.Namespace) -> int:
    """Ranked full-text search over every archived version (pipelines/query/search.py); an
    audited read like `sql`."""
    from pipelines.catalog.connection import connect
    from pipelines.query.access_logged import query_fields, run_logged
    from pipelines.query.search import SearchError, bring_up_to_date, index_path, open_index, search

    audit_db = ctx.require_audit_db()
    arguments = {"terms": args.terms, "limit": args.limit}
    details = {"arguments": arguments, **query_fields(None, arguments, "search")}

    def work() -> tuple[str, dict[str, Any]]:
        try:
            index = open_index(index_path(audit_db))
        except duckdb_open_errors() as exc:
            message = f"the search index {index_path(audit_db)} cannot be opened: {exc}"
            raise SearchError(message) from None
        # Refreshed first (rewritten after a disposition), so no disposed version is found.
        with connect(audit_db, ctx.settings, read_only=True) as audit:
            index = bring_up_to_date(index_path(audit_db), audit, index)
        try:
            hits = search(index, args.terms, args.limit)
        finally:
            index.close()
        rows = [astuple(hit) for hit in hits]
        header = [*SEARCH_HEADER, "author_name", "snippet"]
        return render_rows(header, rows, args.format), {"rows": len(hits)}

    try:
        print(run_logged(ctx.catalog_trail(audit_db), "search", details, work))
    except SearchError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


SEARCH = Command(
    name="search",
    help="Ranked full-text search over every archived message version.",
    example='rc-archive search "cancel contract" --limit 10',
    add_arguments=_search_arguments,
    run=_search,
)

# -- export -------------------------------------------------------------------------------------


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="a source's messages")
    parser.add_argument("--thread", help="a thread's messages")
    parser.add_argument(
        "--identity",
        help="the identity's conversations: every message of a thread it wrote in "
        "(as `hold place --identity`)",
    )
    parser.add_argument(
        "--from", dest="from_", metavar="TIME", help="messages created from (ISO-8601)"
    )
    parser.add_argument("--to", metavar="TIME", help="messages created before (ISO-8601)")
    parser.add_argument(
        "--all",
        action="store_true",
        dest="all_",
        help="every archived message (asked for explicitly: without a selector above, export "
        "refuses)",
    )
    parser.add_argument(
        "--format",
        choices=["csv", "jsonl", "eml", "rsmf", "kit"],
        default="csv",
        help="csv, jsonl, eml (one per thread), rsmf (one per thread) or kit (a folder an "
        "examiner opens with plain DuckDB: every version as Parquet, kit.duckdb views, the "
        "attachment files, README) (csv)",
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="a new or empty directory for the production"
    )
    parser.add_argument(
        "--certificate",
        action="append",
        default=[],
        metavar="CERT.json",
        help="a signed certificate (`rc-archive attest`) to include in proofs/certificates/ "
        "(repeatable)",
    )


def _export(ctx: Context, args: argparse.Namespace) -> int:
    from pipelines.catalog.connection import connect
    from pipelines.query.access_logged import logged_export, query_fields
    from pipelines.query.export import check_selection, export

    from_, to = parse_time(args.from_, "--from"), parse_time(args.to, "--to")
    # No selector is refused unless --all says so; a reversed period too (exit 2, nothing read).
    check_selection(args.source, args.thread, args.identity, from_, to, everything=args.all_)
    for certificate in args.certificate:
        if not os.path.isfile(certificate):
            raise UsageError(f"--certificate {certificate}: no such file")
    audit_db = ctx.require_audit_db()
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

    def produce(staging: Path) -> Any:
        with connect(audit_db, ctx.settings, read_only=True) as conn:
            return export(
                conn,
                staging,
                source=args.source,
                thread=args.thread,
                identity=args.identity,
                from_=from_,
                to=to,
                fmt=args.format,
                settings=ctx.settings,
                certificates=[Path(c) for c in args.certificate],
            )

    result = logged_export(ctx.catalog_trail(audit_db), details, args.out, produce)
    out = os.path.normpath(args.out)
    print(
        f"exported {result.rows} messages from {result.threads} threads as {args.format} "
        f"into {out}: {len(result.files)} files; load file {os.path.join(out, 'manifest.json')}"
    )
    if args.format == "kit":
        print(
            f"open it with: cd {shlex.quote(out)} && duckdb -readonly kit.duckdb (its README.md "
            "says more)"
        )
    return EXIT_OK


EXPORT = Command(
    name="export",
    help="Produce messages for eDiscovery, with a load file.",
    example="rc-archive export --source 65c3fdd9527bf900079cefcb --format eml --out ./production"
    "\n  rc-archive export --thread 65c42333b9eca9e4000003b5 --format kit --out ./examiner-kit",
    add_arguments=_export_arguments,
    run=_export,
)

COMMANDS = (SQL, THREAD, SEARCH, EXPORT)
